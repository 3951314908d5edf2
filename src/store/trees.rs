//! The trees a unit of change writes, listed once. A [`TreeId`] is what the journal records
//! for each write: its value is fixed for ever (a pending journal written by an older release
//! must land in the same trees), so a tree that goes away leaves its number unused and a new
//! tree takes a new number. [`Trees`] holds one value per tree (the sled trees of the store, a
//! unit of change's overlays, …): the compiler checks that every tree is named wherever one is
//! built or taken apart.

/// A tree's number in the journal. Never reuse a value.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TreeId {
    Meta = 0,
    Receipts = 1,
    Controls = 2,
    Licenses = 3,
    Index = 4,
    Audit = 5,
    Mail = 6,
    MailDone = 7,
    Aggregates = 8,
    UnitValues = 9,
    Holds = 10,
    Decisions = 11,
}

impl TreeId {
    /// Every tree, in the order units of change write them.
    pub(crate) const ALL: [TreeId; 12] = [
        TreeId::Meta,
        TreeId::Receipts,
        TreeId::Controls,
        TreeId::Licenses,
        TreeId::Index,
        TreeId::Audit,
        TreeId::Mail,
        TreeId::MailDone,
        TreeId::Aggregates,
        TreeId::UnitValues,
        TreeId::Holds,
        TreeId::Decisions,
    ];

    /// The sled tree's name on disk.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TreeId::Meta => "meta",
            TreeId::Receipts => "receipts",
            TreeId::Controls => "controls",
            TreeId::Licenses => "licenses",
            TreeId::Index => "index",
            TreeId::Audit => "audit",
            TreeId::Mail => "mail",
            TreeId::MailDone => "mail_done",
            TreeId::Aggregates => "aggregates",
            TreeId::UnitValues => "unit_values",
            TreeId::Holds => "holds",
            TreeId::Decisions => "decisions",
        }
    }

    /// The tree a journal frame names, if this release knows it.
    pub(crate) fn from_u8(v: u8) -> Option<TreeId> {
        TreeId::ALL.into_iter().find(|t| *t as u8 == v)
    }
}

/// One `T` per tree.
pub(crate) struct Trees<T> {
    pub meta: T,
    pub receipts: T,
    pub controls: T,
    pub licenses: T,
    pub index: T,
    pub audit: T,
    pub mail: T,
    pub mail_done: T,
    pub agg: T,
    pub uv: T,
    pub holds: T,
    pub decisions: T,
}

impl<T> Trees<T> {
    /// Build one `T` per tree; the first error ends it.
    pub(crate) fn try_new<E>(mut f: impl FnMut(TreeId) -> Result<T, E>) -> Result<Trees<T>, E> {
        Ok(Trees {
            meta: f(TreeId::Meta)?,
            receipts: f(TreeId::Receipts)?,
            controls: f(TreeId::Controls)?,
            licenses: f(TreeId::Licenses)?,
            index: f(TreeId::Index)?,
            audit: f(TreeId::Audit)?,
            mail: f(TreeId::Mail)?,
            mail_done: f(TreeId::MailDone)?,
            agg: f(TreeId::Aggregates)?,
            uv: f(TreeId::UnitValues)?,
            holds: f(TreeId::Holds)?,
            decisions: f(TreeId::Decisions)?,
        })
    }

    pub(crate) fn get(&self, id: TreeId) -> &T {
        match id {
            TreeId::Meta => &self.meta,
            TreeId::Receipts => &self.receipts,
            TreeId::Controls => &self.controls,
            TreeId::Licenses => &self.licenses,
            TreeId::Index => &self.index,
            TreeId::Audit => &self.audit,
            TreeId::Mail => &self.mail,
            TreeId::MailDone => &self.mail_done,
            TreeId::Aggregates => &self.agg,
            TreeId::UnitValues => &self.uv,
            TreeId::Holds => &self.holds,
            TreeId::Decisions => &self.decisions,
        }
    }

    /// One `U` per tree, made from this tree's `T`.
    pub(crate) fn map<'a, U>(&'a self, mut f: impl FnMut(TreeId, &'a T) -> U) -> Trees<U> {
        match Trees::try_new(|id| Ok::<U, std::convert::Infallible>(f(id, self.get(id)))) {
            Ok(t) => t,
            Err(never) => match never {},
        }
    }

    /// Every tree with its value, in [`TreeId::ALL`]'s order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TreeId, &T)> {
        TreeId::ALL.into_iter().map(move |id| (id, self.get(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tree_has_its_own_number_and_name() {
        let mut values: Vec<u8> = TreeId::ALL.iter().map(|t| *t as u8).collect();
        let mut names: Vec<&str> = TreeId::ALL.iter().map(|t| t.name()).collect();
        values.sort_unstable();
        values.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!((values.len(), names.len()), (12, 12));
        for t in TreeId::ALL {
            assert_eq!(TreeId::from_u8(t as u8), Some(t));
        }
        assert_eq!(TreeId::from_u8(200), None);
        // `map` and `get` agree on which value is whose.
        let t = Trees::try_new(Ok::<_, ()>).unwrap();
        assert!(t.iter().all(|(id, v)| id == *v));
        assert!(t.map(|id, v| id == *v).iter().all(|(_, same)| *same));
    }
}

//! The typed domain model of a license application. Values here are already valid: every
//! constructor checks its rule, so the store and the monitor never see a malformed value.

use super::checkdigit::mod10;
use super::countries;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A 10-digit HTS statistical number, held as its digits without dots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hts(pub [u8; 10]);

impl Hts {
    /// `7606123090` or `7606.12.3090`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Hts> {
        let b = s.as_bytes();
        let mut d = [0u8; 10];
        match b.len() {
            10 if b.iter().all(u8::is_ascii_digit) => d.copy_from_slice(b),
            12 if b[4] == b'.'
                && b[7] == b'.'
                && b[..4]
                    .iter()
                    .chain(&b[5..7])
                    .chain(&b[8..])
                    .all(u8::is_ascii_digit) =>
            {
                d[..4].copy_from_slice(&b[..4]);
                d[4..6].copy_from_slice(&b[5..7]);
                d[6..].copy_from_slice(&b[8..]);
            }
            _ => return None,
        }
        Some(Hts(d))
    }

    pub fn digits(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("0000000000")
    }

    /// The six-digit subheading the monitor aggregates by.
    pub fn hts6(&self) -> &str {
        &self.digits()[..6]
    }

    /// The AIM product category, or `None` when the number is outside AIM scope.
    pub fn category(&self) -> Option<Category> {
        use Category::*;
        Some(match &self.0[..4] {
            b"7601" => Unwrought,
            b"7604" => BarsRodsProfiles,
            b"7605" => Wire,
            b"7606" => PlateSheetStrip,
            b"7607" => Foil,
            b"7608" => TubesPipes,
            b"7609" => TubePipeFittings,
            b"7616" if &self.0 == b"7616995160" || &self.0 == b"7616995170" => CastingsForgings,
            _ => return None,
        })
    }

    /// `7606.12.3090`
    pub fn dotted(&self) -> String {
        let d = self.digits();
        format!("{}.{}.{}", &d[..4], &d[4..6], &d[6..])
    }
}

impl fmt::Display for Hts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dotted())
    }
}

/// Product categories of the AIM monitor (spec section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    Unwrought,
    BarsRodsProfiles,
    Wire,
    PlateSheetStrip,
    Foil,
    TubesPipes,
    TubePipeFittings,
    CastingsForgings,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Unwrought,
        Category::BarsRodsProfiles,
        Category::Wire,
        Category::PlateSheetStrip,
        Category::Foil,
        Category::TubesPipes,
        Category::TubePipeFittings,
        Category::CastingsForgings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Unwrought => "Unwrought aluminum",
            Category::BarsRodsProfiles => "Bars, rods and profiles",
            Category::Wire => "Wire",
            Category::PlateSheetStrip => "Plate, sheet and strip",
            Category::Foil => "Foil",
            Category::TubesPipes => "Tubes and pipes",
            Category::TubePipeFittings => "Tube and pipe fittings",
            Category::CastingsForgings => "Castings and forgings",
        }
    }
}

/// An assigned ISO 3166-1 alpha-2 country code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Country(pub [u8; 2]);

/// Why a text is not a country code: the shape (A201) or the assignment (A202).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountryError {
    NotTwoLetters,
    NotAssigned,
}

impl Country {
    pub fn parse(s: &str) -> Result<Country, CountryError> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(CountryError::NotTwoLetters);
        }
        if !countries::is_assigned(s) {
            return Err(CountryError::NotAssigned);
        }
        Ok(Country([b[0], b[1]]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A smelt country: a country, `NOT_APPLICABLE` (secondary aluminum only) or `UNKNOWN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Smelt {
    Country(Country),
    NotApplicable,
    Unknown,
}

impl Smelt {
    pub fn key(&self) -> &str {
        match self {
            Smelt::Country(c) => c.as_str(),
            Smelt::NotApplicable => "NOT_APPLICABLE",
            Smelt::Unknown => "UNKNOWN",
        }
    }
}

/// A CBP entry number, stored without dashes: 3-character filer code, 7 digits, check digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryNumber(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryNumberError {
    Malformed,
    CheckDigit { expected: u8 },
}

impl EntryNumber {
    /// `[A-Z0-9]{3}-?[0-9]{7}-?[0-9]`, each dash optional on its own, with a valid check digit.
    pub fn parse(s: &str) -> Result<EntryNumber, EntryNumberError> {
        let b = s.as_bytes();
        if b.len() < 3
            || !b[..3]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(EntryNumberError::Malformed);
        }
        let mut rest = &b[3..];
        if rest.first() == Some(&b'-') {
            rest = &rest[1..];
        }
        if rest.len() < 7 || !rest[..7].iter().all(u8::is_ascii_digit) {
            return Err(EntryNumberError::Malformed);
        }
        let digits7 = &rest[..7];
        rest = &rest[7..];
        if rest.first() == Some(&b'-') {
            rest = &rest[1..];
        }
        if rest.len() != 1 || !rest[0].is_ascii_digit() {
            return Err(EntryNumberError::Malformed);
        }
        let mut ten = [0u8; 10];
        ten[..3].copy_from_slice(&b[..3]);
        ten[3..].copy_from_slice(digits7);
        let expected = mod10(&ten).ok_or(EntryNumberError::Malformed)?;
        if rest[0] - b'0' != expected {
            return Err(EntryNumberError::CheckDigit { expected });
        }
        let mut s = String::with_capacity(11);
        s.push_str(std::str::from_utf8(&ten).map_err(|_| EntryNumberError::Malformed)?);
        s.push(char::from(rest[0]));
        Ok(EntryNumber(s))
    }
}

impl fmt::Display for EntryNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        write!(f, "{}-{}-{}", &s[..3], &s[3..10], &s[10..])
    }
}

/// A license number `AIM-<YYYY>-<NNNNNNN>-<C>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LicenseNumber {
    pub year: u16,
    pub seq: u32,
}

impl LicenseNumber {
    pub const MAX_SEQ: u32 = 9_999_999;

    pub fn new(year: u16, seq: u32) -> LicenseNumber {
        LicenseNumber { year, seq }
    }

    fn digits(&self) -> [u8; 11] {
        let s = format!("{:04}{:07}", self.year, self.seq);
        let mut d = [0u8; 11];
        d.copy_from_slice(&s.as_bytes()[..11]);
        d
    }

    pub fn check_digit(&self) -> u8 {
        mod10(&self.digits()).unwrap_or(0)
    }

    /// The pattern `AIM-[0-9]{4}-[0-9]{7}-[0-9]` and a correct check digit.
    pub fn parse(s: &str) -> Option<LicenseNumber> {
        let b = s.as_bytes();
        if b.len() != 18
            || &b[..4] != b"AIM-"
            || b[8] != b'-'
            || b[16] != b'-'
            || !b[4..8].iter().chain(&b[9..16]).all(u8::is_ascii_digit)
            || !b[17].is_ascii_digit()
        {
            return None;
        }
        let year: u16 = s[4..8].parse().ok()?;
        let seq: u32 = s[9..16].parse().ok()?;
        let n = LicenseNumber { year, seq };
        (n.check_digit() == b[17] - b'0').then_some(n)
    }
}

impl fmt::Display for LicenseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AIM-{:04}-{:07}-{}",
            self.year,
            self.seq,
            self.check_digit()
        )
    }
}

impl FromStr for LicenseNumber {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LicenseNumber::parse(s).ok_or_else(|| format!("{s} is not a valid AIM license number"))
    }
}

/// Net quantity in kilograms: > 0, at most 3 decimals, at most 12 integer digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Kg(pub Decimal);

/// A customs value in US dollars: > 0, at most 2 decimals, at most 12 integer digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Usd(pub Decimal);

/// How a decimal text failed: its shape (A201) or its range and precision (A330).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalError {
    Malformed,
    NotPositive,
    TooManyDecimals,
    TooManyIntegerDigits,
}

/// Read `-?[0-9]+(\.[0-9]+)?` with at most `max_decimals` decimals as written and at most 12
/// integer digits (leading zeros not counted), and require it to be > 0.
pub fn parse_positive_decimal(s: &str, max_decimals: usize) -> Result<Decimal, DecimalError> {
    let b = s.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) {
        return Err(DecimalError::Malformed);
    }
    if let Some(f) = frac
        && (f.is_empty() || !f.iter().all(u8::is_ascii_digit))
    {
        return Err(DecimalError::Malformed);
    }
    let significant_int = int.iter().skip_while(|&&c| c == b'0').count();
    let all_zero = int.iter().chain(frac.unwrap_or(&[])).all(|&c| c == b'0');
    if neg || all_zero {
        return Err(DecimalError::NotPositive);
    }
    if frac.map_or(0, <[u8]>::len) > max_decimals {
        return Err(DecimalError::TooManyDecimals);
    }
    if significant_int > 12 {
        return Err(DecimalError::TooManyIntegerDigits);
    }
    // At most 12 integer and 3 decimal digits remain: the mantissa fits an i64 exactly.
    let mut mantissa: i64 = 0;
    for &c in int
        .iter()
        .skip_while(|&&c| c == b'0')
        .chain(frac.unwrap_or(&[]))
    {
        mantissa = mantissa * 10 + i64::from(c - b'0');
    }
    // At most `max_decimals` (checked above), so the scale fits.
    let scale =
        u32::try_from(frac.map_or(0, <[u8]>::len)).map_err(|_| DecimalError::TooManyDecimals)?;
    Ok(Decimal::new(mantissa, scale))
}

/// Unit value in USD per metric ton, `value / (kg / 1000)`, half-to-even to 2 decimals.
pub fn unit_value(value: Usd, qty: Kg) -> Decimal {
    let per_t = value.0 * Decimal::ONE_THOUSAND / qty.0;
    let mut r = per_t.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    r.rescale(2);
    r
}

/// Format a decimal with exactly `dp` decimals (half-to-even): for acks and the monitor.
pub fn fixed(d: Decimal, dp: u32) -> String {
    let mut r = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven);
    r.rescale(dp);
    r.to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryType {
    Consumption,
    Ftz,
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Consumption => "consumption",
            EntryType::Ftz => "ftz",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    New,
    Correct,
    Cancel,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "new" => Some(Action::New),
            "correct" => Some(Action::Correct),
            "cancel" => Some(Action::Cancel),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Action::New => "new",
            Action::Correct => "correct",
            Action::Cancel => "cancel",
        }
    }
}

/// The person and firm who filed the application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filer {
    pub company: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub contact_name: String,
    pub phone: String,
    pub email: String,
}

/// The manufacturers of the shipment's products, or `UNKNOWN`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Manufacturers {
    Named(Vec<String>),
    Unknown,
}

/// One product line of an application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub line: u16,
    pub hts: Hts,
    pub description: String,
    pub largest_smelt: Smelt,
    pub second_smelt: Smelt,
    pub cast: Country,
    pub quantity: Kg,
    pub value: Usd,
}

impl Product {
    pub fn category(&self) -> Category {
        // Products are only built from in-scope HTS numbers.
        self.hts.category().unwrap_or(Category::Unwrought)
    }
    pub fn unit_value(&self) -> Decimal {
        unit_value(self.value, self.quantity)
    }
}

/// The data of a new or corrected license application, fully validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseData {
    pub filer: Filer,
    pub entry_type: EntryType,
    pub entry_number: Option<EntryNumber>,
    pub importer: String,
    pub exporter: String,
    pub manufacturers: Manufacturers,
    pub origin: Country,
    pub export_country: Country,
    pub export_date: NaiveDate,
    pub import_date: NaiveDate,
    pub port: String,
    pub products: Vec<Product>,
}

impl LicenseData {
    pub fn total_value(&self) -> Decimal {
        self.products.iter().map(|p| p.value.0).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hts_forms() {
        assert_eq!(Hts::parse("7606.12.3090"), Hts::parse("7606123090"));
        assert_eq!(Hts::parse("7606.12.3090").unwrap().digits(), "7606123090");
        assert!(Hts::parse("7606.123.090").is_none());
        assert!(Hts::parse("760612309").is_none());
        assert!(Hts::parse("7606 12 3090").is_none());
        assert_eq!(
            Hts::parse("7616995170").unwrap().category(),
            Some(Category::CastingsForgings)
        );
        assert_eq!(Hts::parse("7616995150").unwrap().category(), None);
        assert_eq!(Hts::parse("7208101500").unwrap().category(), None);
        assert_eq!(Hts::parse("7602000000").unwrap().category(), None);
        assert_eq!(
            Hts::parse("7609000000").unwrap().category(),
            Some(Category::TubePipeFittings)
        );
    }

    #[test]
    fn countries_shape_and_assignment() {
        assert_eq!(Country::parse("CA").unwrap().as_str(), "CA");
        assert_eq!(Country::parse("ca"), Err(CountryError::NotTwoLetters));
        assert_eq!(Country::parse("CAN"), Err(CountryError::NotTwoLetters));
        assert_eq!(Country::parse("UK"), Err(CountryError::NotAssigned));
        assert_eq!(Country::parse("EU"), Err(CountryError::NotAssigned));
        assert_eq!(Country::parse("QQ"), Err(CountryError::NotAssigned));
    }

    #[test]
    fn entry_numbers() {
        assert_eq!(
            EntryNumber::parse("ABC-1234567-6").unwrap().0,
            "ABC12345676"
        );
        assert_eq!(
            EntryNumber::parse("ABC12345676").unwrap().to_string(),
            "ABC-1234567-6"
        );
        assert!(EntryNumber::parse("ABC-12345676").is_ok());
        assert!(EntryNumber::parse("ABC1234567-6").is_ok());
        assert!(EntryNumber::parse("999-9999999-0").is_ok());
        assert_eq!(
            EntryNumber::parse("ABC-1234567-5"),
            Err(EntryNumberError::CheckDigit { expected: 6 })
        );
        assert_eq!(
            EntryNumber::parse("abc-1234567-6"),
            Err(EntryNumberError::Malformed)
        );
        assert_eq!(
            EntryNumber::parse("ABC--1234567-6"),
            Err(EntryNumberError::Malformed)
        );
        assert_eq!(
            EntryNumber::parse("ABC-123456-6"),
            Err(EntryNumberError::Malformed)
        );
        assert_eq!(EntryNumber::parse(""), Err(EntryNumberError::Malformed));
    }

    #[test]
    fn license_numbers_round_trip() {
        let n = LicenseNumber::parse("AIM-2026-0000017-4").unwrap();
        assert_eq!(n, LicenseNumber::new(2026, 17));
        assert_eq!(n.to_string(), "AIM-2026-0000017-4");
        assert_eq!(
            LicenseNumber::new(2026, 123).to_string(),
            "AIM-2026-0000123-5"
        );
        assert!(LicenseNumber::parse("AIM-2026-0000017-5").is_none());
        assert!(LicenseNumber::parse("AIM-2026-000017-4").is_none());
        assert!(LicenseNumber::parse("aim-2026-0000017-4").is_none());
        for seq in [0, 1, 99, 1234567, LicenseNumber::MAX_SEQ] {
            let n = LicenseNumber::new(2027, seq);
            assert_eq!(LicenseNumber::parse(&n.to_string()), Some(n));
        }
    }

    #[test]
    fn decimals_as_written() {
        use DecimalError::*;
        let p = |s| parse_positive_decimal(s, 3);
        assert_eq!(p("12500.000").unwrap().to_string(), "12500.000");
        assert_eq!(p("000000000000012.5").unwrap().to_string(), "12.5");
        assert_eq!(
            p("999999999999.999").unwrap().to_string(),
            "999999999999.999"
        );
        assert_eq!(p("1000000000000"), Err(TooManyIntegerDigits));
        assert_eq!(p("1.5000"), Err(TooManyDecimals));
        assert_eq!(p("0"), Err(NotPositive));
        assert_eq!(p("0.000"), Err(NotPositive));
        assert_eq!(p("-5"), Err(NotPositive));
        assert_eq!(p("-0"), Err(NotPositive));
        for bad in ["+5", "1e3", "1,5", ".", "5.", ".5", "", "-", "1.2.3", " 1"] {
            assert_eq!(p(bad), Err(Malformed), "{bad}");
        }
    }

    #[test]
    fn unit_value_rounds_half_to_even() {
        let uv = |v: &str, q: &str| {
            unit_value(Usd(v.parse().unwrap()), Kg(q.parse().unwrap())).to_string()
        };
        assert_eq!(uv("41250.00", "12500.000"), "3300.00");
        assert_eq!(uv("0.01", "8"), "1.25");
        assert_eq!(uv("0.01", "800"), "0.01"); // 0.0125 → 0.01 (even)
        assert_eq!(uv("0.03", "800"), "0.04"); // 0.0375 → 0.04
        assert_eq!(uv("999999999999.99", "0.001"), "999999999999990000.00");
    }
}

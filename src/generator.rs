//! `aim gen`: realistic, valid AIM-XML 1.0 filings for demos and load tests (spec section 8).
//!
//! Every file is a `LicenseFiling` like the partner samples: one `Interchange` and
//! `apps_per_file` applications with `action="new"` and ids `A1`..`AK`. The content is drawn from
//! fixed pools (filers, US importers, foreign producers per country, CBP ports, in-scope HTS
//! statistical numbers with typical prices) by a seeded ChaCha8 generator, so the same options
//! always give byte-identical files, independent of platform.
//!
//! Every generated application satisfies every application-level rule of spec section 3 for a
//! file picked up on `today` (or up to 15 days later):
//! - countries are assigned ISO 3166-1 codes among real aluminum exporters;
//! - `LargestSmelt` is a country or `NOT_APPLICABLE` (then `SecondLargestSmelt` is too),
//!   `SecondLargestSmelt` is `NOT_APPLICABLE` or a different country, `MostRecentCast` a country;
//! - HTS numbers are under headings 7601, 7604–7609 or are 7616.99.5160 / 7616.99.5170, written
//!   with or without dots;
//! - quantities have 0–3 decimals, values exactly 2, both positive; unit values lie between about
//!   2,000 and 6,000 USD per metric ton;
//! - `EntryNumber`, when present, carries a correct modulus-10 check digit;
//! - `ExpectedImportDate` is `today` + 1..=45 days, `ExpectedExportDate` 0..=30 days before it.
//!
//! About 2% of applications are deliberately small "sample" shipments whose total value may fall
//! under USD 2,500, so warning W301 (which never blocks a license) shows up in demos too.

pub mod fill;

use chrono::{Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate; see [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    /// `Interchange/SenderId`, written as given (the caller checks it is 2–15 of `A-Z0-9`).
    pub sender: String,
    /// Number of files.
    pub count: usize,
    /// Applications per file; 0 is treated as 1 (a filing needs at least one application).
    pub apps_per_file: usize,
    /// Seed of the generator: the same options give byte-identical files.
    pub seed: u64,
    /// The day the files are meant to be filed; dates are chosen relative to it.
    pub today: NaiveDate,
}

/// One generated filing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// `<sender-lowercase>-<seed>-<NNNNNN>.xml`, `NNNNNN` the 1-based file number, zero-padded to
    /// at least six digits.
    pub name: String,
    /// The UTF-8 XML document.
    pub bytes: Vec<u8>,
}

/// The filings described by `opts`, generated lazily one at a time, so a large `count` never
/// holds more than one file in memory.
///
/// File `i` (0-based) is drawn from its own ChaCha8 stream (`seed_from_u64(seed)`, stream `i`),
/// so it does not depend on the files before it, and carries the control number
/// [`control_number`]`(seed, i)`.
pub fn generate(opts: &GenOptions) -> impl Iterator<Item = GeneratedFile> + use<> {
    let opts = opts.clone();
    (0..opts.count).map(move |index| generate_file(&opts, index))
}

/// A seed for a run without `--seed`: the clock's microseconds, so that each run writes new
/// files (new names, new control numbers) instead of the same ones again.
pub fn clock_seed() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_micros()).unwrap_or(u64::MAX)
}

/// Control number of file `index` (0-based) of a run with `seed`:
/// `((seed mod 1000) × 1,000,000 + index + 1) mod 1,000,000,000`, written as 9 digits.
///
/// Within one run the numbers are distinct for up to 10^9 files. Runs whose seeds differ modulo
/// 1000 use disjoint blocks of a million numbers (as long as they hold at most 1,000,000 files
/// each), so files of different seeds can be fed to the same daemon without F005 collisions.
/// Seeds equal modulo 1000 (`7` and `1007`) share a block: that is the price of fitting seed and
/// index into 9 digits.
pub fn control_number(seed: u64, index: usize) -> u64 {
    ((seed % 1000) * 1_000_000 + index as u64 + 1) % 1_000_000_000
}

fn file_name(opts: &GenOptions, index: usize) -> String {
    format!(
        "{}-{}-{:06}.xml",
        opts.sender.to_lowercase(),
        opts.seed,
        index + 1
    )
}

// ---------------------------------------------------------------------------------------------
// Pools. All names are fictional; `&` and non-ASCII letters are included on purpose so that
// escaping and UTF-8 are exercised.

struct Filer {
    company: &'static str,
    street: &'static str,
    city: &'static str,
    state: &'static str,
    postal: &'static str,
    contact: &'static str,
    phone: &'static str,
    email: &'static str,
    /// CBP filer code (first three characters of its entry numbers).
    code: &'static str,
    /// Preferred ports of entry (CBP port codes).
    ports: &'static [&'static str],
}

const FILERS: &[Filer] = &[
    Filer {
        company: "Acme Customs Brokerage LLC",
        street: "1 Harbor Way",
        city: "Baltimore",
        state: "MD",
        postal: "21230",
        contact: "Jane Roe",
        phone: "+1 410 555 0100",
        email: "jane.roe@acme.example",
        code: "AC7",
        ports: &["1303", "1401", "1001", "4601"],
    },
    Filer {
        company: "Harbor & Rail Customs Brokers Inc",
        street: "240 Terminal Ave",
        city: "Newark",
        state: "NJ",
        postal: "07114",
        contact: "Luis Ortega",
        phone: "+1 (973) 555-0142",
        email: "l.ortega@harborrail.example",
        code: "HR2",
        ports: &["4601", "1001", "1101"],
    },
    Filer {
        company: "Great Lakes Trade Services Co",
        street: "18 Riverfront Dr, Suite 400",
        city: "Detroit",
        state: "MI",
        postal: "48226",
        contact: "Priya Natarajan",
        phone: "+1 313-555-0187",
        email: "priya@greatlakes-trade.example",
        code: "GLT",
        ports: &["3801", "3802", "4101", "3901"],
    },
    Filer {
        company: "Pacific Gateway Brokerage Inc",
        street: "900 Pier Rd",
        city: "Long Beach",
        state: "CA",
        postal: "90802",
        contact: "Kenji Watanabe",
        phone: "+1 562 555 0113",
        email: "kwatanabe@pacgateway.example",
        code: "P9G",
        ports: &["2709", "2704", "2904", "3001"],
    },
    Filer {
        company: "O'Neill Trade Compliance LLC",
        street: "55 Commerce St",
        city: "Savannah",
        state: "GA",
        postal: "31401",
        contact: "Siobhan O'Neill",
        phone: "+1.912.555.0199",
        email: "siobhan.oneill@oneilltrade.example",
        code: "ONT",
        ports: &["1703", "1601", "1801", "5201"],
    },
    Filer {
        company: "Lone Star Customs House Brokers",
        street: "7100 Port Blvd",
        city: "Houston",
        state: "TX",
        postal: "77029",
        contact: "Marcus Bell",
        phone: "+1 713 555 0175",
        email: "mbell@lonestarchb.example",
        code: "L5S",
        ports: &["5301", "2002", "2304"],
    },
    Filer {
        company: "Northern Border Brokers Ltd",
        street: "2 Peace Bridge Plz",
        city: "Buffalo",
        state: "NY",
        postal: "14213",
        contact: "Anne-Marie Dubois",
        phone: "+1 716 555 0166",
        email: "am.dubois@nbb.example",
        code: "NBB",
        ports: &["0901", "0712", "3801"],
    },
];

const IMPORTERS: &[&str] = &[
    "Northwind Metals Inc",
    "Baker & Hale Metals LLC",
    "Cumberland Extrusion Supply Co",
    "Prairie Foil Converters Inc",
    "Bayou Wire & Cable Corp",
    "Summit Rolling Products LLC",
    "Keystone Aluminum Distribution Inc",
    "Cascade Fabrication Group",
    "Liberty Can Stock Partners LP",
    "Desert Sun Window Systems Inc",
    "Atlantic Tube & Pipe Co",
    "Granite State Castings LLC",
    "Ohio Valley Service Center Inc",
    "Gulf Coast Marine Alloys LLC",
];

/// Ports at the Canadian and Mexican land borders, for goods exported from CA or MX.
const PORTS_CA: &[&str] = &["3801", "3802", "0901", "0712", "3001"];
const PORTS_MX: &[&str] = &["2304", "2402", "2604", "2506"];

struct Country {
    code: &'static str,
    /// Relative frequency as country of origin.
    weight: u32,
    /// Has primary (electrolytic) smelting capacity.
    smelter: bool,
    /// Producers and traders located there (at least three).
    companies: &'static [&'static str],
}

const COUNTRIES: &[Country] = &[
    Country {
        code: "CA",
        weight: 30,
        smelter: true,
        companies: &[
            "Maple Aluminium Ltd",
            "Laurentian Smelting Inc",
            "Saguenay Produits Laminés Ltée",
        ],
    },
    Country {
        code: "AE",
        weight: 10,
        smelter: true,
        companies: &[
            "Arabian Sands Rolling LLC",
            "Jebel Ali Extrusions FZE",
            "Falcon Primary Metals PJSC",
        ],
    },
    Country {
        code: "IN",
        weight: 6,
        smelter: true,
        companies: &[
            "Deccan Aluminium Ltd",
            "Odisha Metal Works Pvt Ltd",
            "Konkan Foils Pvt Ltd",
        ],
    },
    Country {
        code: "CN",
        weight: 8,
        smelter: true,
        companies: &[
            "Henan Huaxin Aluminum Co Ltd",
            "Shandong Yuanhe Foil Co Ltd",
            "Guangdong Lixin Extrusion Co Ltd",
        ],
    },
    Country {
        code: "MX",
        weight: 6,
        smelter: false,
        companies: &[
            "Aluminio del Bajío SA de CV",
            "Monterrey Perfiles SA de CV",
            "Laminados Querétaro SA de CV",
        ],
    },
    Country {
        code: "BH",
        weight: 5,
        smelter: true,
        companies: &[
            "Bahrain Bay Alloys WLL",
            "Sitra Aluminium Products WLL",
            "Muharraq Rod & Wire WLL",
        ],
    },
    Country {
        code: "NO",
        weight: 3,
        smelter: true,
        companies: &[
            "Fjordmetall AS",
            "Sunndal Støperi AS",
            "Vestland Profiler AS",
        ],
    },
    Country {
        code: "IS",
        weight: 2,
        smelter: true,
        companies: &[
            "Hvalfjörður Álver ehf",
            "Reykjanes Metals hf",
            "Austurland Alloys ehf",
        ],
    },
    Country {
        code: "DE",
        weight: 4,
        smelter: true,
        companies: &[
            "Rheinwalz Aluminium GmbH",
            "Ruhr Profiltechnik GmbH & Co KG",
            "Elbe Folien GmbH",
        ],
    },
    Country {
        code: "KR",
        weight: 4,
        smelter: false,
        companies: &[
            "Hanbit Aluminum Co Ltd",
            "Ulsan Precision Foil Corp",
            "Gyeonggi Extrusion Co Ltd",
        ],
    },
    Country {
        code: "TH",
        weight: 3,
        smelter: false,
        companies: &[
            "Siam Coil Aluminium Co Ltd",
            "Rayong Extrusion Public Co Ltd",
            "Chonburi Foil Industries Co Ltd",
        ],
    },
    Country {
        code: "TR",
        weight: 3,
        smelter: true,
        companies: &[
            "Ege Alüminyum Sanayi AŞ",
            "Anadolu Profil AŞ",
            "Marmara Folyo Sanayi AŞ",
        ],
    },
    Country {
        code: "VN",
        weight: 3,
        smelter: false,
        companies: &[
            "Hai Phong Aluminium JSC",
            "Mekong Profile Co Ltd",
            "Dong Nai Metal Industries JSC",
        ],
    },
    Country {
        code: "MY",
        weight: 3,
        smelter: true,
        companies: &[
            "Bintulu Light Metals Sdn Bhd",
            "Klang Aluminium Rolling Sdn Bhd",
            "Penang Extrusion Sdn Bhd",
        ],
    },
    Country {
        code: "ZA",
        weight: 2,
        smelter: true,
        companies: &[
            "Zululand Alloys (Pty) Ltd",
            "Highveld Rolled Products (Pty) Ltd",
            "Cape Extrusions (Pty) Ltd",
        ],
    },
    Country {
        code: "BR",
        weight: 2,
        smelter: true,
        companies: &[
            "Alumínio Serra Verde SA",
            "Minas Laminados Ltda",
            "Paraná Perfis Ltda",
        ],
    },
    Country {
        code: "AR",
        weight: 2,
        smelter: true,
        companies: &[
            "Patagonia Aluminio SA",
            "Puerto Madryn Metales SA",
            "Rosario Laminación SA",
        ],
    },
    Country {
        code: "QA",
        weight: 2,
        smelter: true,
        companies: &[
            "Al Wakrah Alloys QPSC",
            "Doha Alloy Casting WLL",
            "Lusail Light Metals WLL",
        ],
    },
    Country {
        code: "OM",
        weight: 2,
        smelter: true,
        companies: &[
            "Batinah Aluminium Products LLC",
            "Muscat Extrusions SAOC",
            "Dhofar Rod & Cable LLC",
        ],
    },
    Country {
        code: "SA",
        weight: 2,
        smelter: true,
        companies: &[
            "Jubail Coastal Rolling Co",
            "Arabian Gulf Profiles Co",
            "Dammam Primary Metals Co",
        ],
    },
    Country {
        code: "AU",
        weight: 2,
        smelter: true,
        companies: &[
            "Capricorn Primary Metals Pty Ltd",
            "Hunter Valley Aluminium Pty Ltd",
            "Geelong Rolled Products Pty Ltd",
        ],
    },
    Country {
        code: "NZ",
        weight: 1,
        smelter: true,
        companies: &[
            "Bluff Harbour Metals Ltd",
            "Southland Alloys Ltd",
            "Waikato Extrusions Ltd",
        ],
    },
];

/// Product families of AIM scope, with typical unit prices and shipment sizes.
struct Family {
    /// Relative frequency.
    weight: u32,
    /// Unit value range, USD per metric ton.
    price: (u64, u64),
    /// Quantity range per product line, kg.
    kg: (u64, u64),
    /// Statistical numbers (dotted) and a description template for each.
    items: &'static [(&'static str, Describe)],
}

type Describe = fn(&mut ChaCha8Rng) -> String;

const FAMILIES: &[Family] = &[
    // 7601 Unwrought aluminum
    Family {
        weight: 25,
        price: (2_200, 3_200),
        kg: (18_000, 250_000),
        items: &[
            ("7601.10.3000", |r| {
                format!(
                    "Unalloyed aluminum rod {} in coils, 9.5 mm",
                    pick(r, &["EC grade", "1350"])
                )
            }),
            ("7601.10.6090", |r| {
                format!(
                    "Primary aluminum ingot {}",
                    pick(r, &["P1020A", "P1020", "99.7% Al"])
                )
            }),
            ("7601.20.3000", |r| {
                format!(
                    "Aluminum alloy redraw rod {} in coils, 9.5 mm",
                    pick(r, &["8030", "8176", "6101"])
                )
            }),
            ("7601.20.6000", |r| {
                format!(
                    "Aluminum-silicon master alloy AlSi{}",
                    pick(r, &["25", "30", "50"])
                )
            }),
            ("7601.20.9045", |r| {
                format!(
                    "Aluminum alloy extrusion billet {}, diameter {} mm",
                    pick(r, &["6063", "6061", "6082", "6005A"]),
                    pick(r, &["152", "178", "203", "228", "254"])
                )
            }),
            ("7601.20.9075", |_| "Remelt scrap ingot (RSI)".to_string()),
            ("7601.20.9080", |r| {
                format!(
                    "Sheet ingot (slab) {}, 600 mm thick",
                    pick(r, &["5182", "3104", "1100", "5754"])
                )
            }),
            ("7601.20.9085", |r| {
                format!(
                    "Foundry ingot {}",
                    pick(r, &["A356.2", "A380", "319", "AlSi7Mg0.3"])
                )
            }),
            ("7601.20.9095", |r| {
                format!(
                    "Aluminum alloy T-bar ingot {}",
                    pick(r, &["6063", "3003", "5052"])
                )
            }),
        ],
    },
    // 7604 Bars, rods and profiles
    Family {
        weight: 20,
        price: (3_500, 5_500),
        kg: (2_000, 40_000),
        items: &[
            ("7604.29.1000", |r| {
                format!(
                    "Extruded aluminum profile {}-{}, {}",
                    pick(r, &["6063", "6060", "6005A"]),
                    pick(r, &["T5", "T6"]),
                    pick(
                        r,
                        &[
                            "window frame section",
                            "curtain wall mullion",
                            "solar panel rail",
                            "heat sink section"
                        ]
                    )
                )
            }),
            ("7604.29.3030", |r| {
                format!(
                    "Round bar {}-T6, diameter {} mm",
                    pick(r, &["7075", "2024", "7050"]),
                    r.gen_range(12..=150u32)
                )
            }),
            ("7604.29.5030", |r| {
                format!(
                    "Aluminum alloy flat bar {}, {} x {} mm",
                    pick(r, &["6061-T6", "6082-T6"]),
                    r.gen_range(3..=9u32),
                    r.gen_range(20..=80u32)
                )
            }),
            ("7604.29.5060", |r| {
                format!(
                    "Aluminum alloy square bar {}, {} mm",
                    pick(r, &["6061-T6511", "6082-T6", "2011-T3"]),
                    r.gen_range(10..=100u32)
                )
            }),
        ],
    },
    // 7605 Wire
    Family {
        weight: 8,
        price: (2_800, 3_900),
        kg: (5_000, 60_000),
        items: &[
            ("7605.11.0030", |r| {
                format!(
                    "Aluminum wire rod {} mm, EC grade",
                    pick(r, &["12", "15", "19"])
                )
            }),
            ("7605.11.0090", |r| {
                format!(
                    "Aluminum wire 1350-H19, {} mm",
                    pick(r, &["3.0", "3.5", "4.5"])
                )
            }),
            ("7605.19.0000", |_| {
                "Aluminum wire 1350, flattened, in coils".to_string()
            }),
            ("7605.21.0030", |r| {
                format!(
                    "Aluminum alloy wire rod {}, 12 mm",
                    pick(r, &["8030", "6201"])
                )
            }),
            ("7605.21.0090", |r| {
                format!(
                    "Aluminum alloy wire {}, {} mm",
                    pick(r, &["5356", "4043", "5183"]),
                    pick(r, &["1.2", "1.6", "2.4"])
                )
            }),
            ("7605.29.0000", |r| {
                format!(
                    "Aluminum alloy welding wire {} on spools",
                    pick(r, &["ER4043", "ER5356"])
                )
            }),
        ],
    },
    // 7606 Plate, sheet and strip
    Family {
        weight: 22,
        price: (3_200, 4_800),
        kg: (3_000, 80_000),
        items: &[
            ("7606.11.6000", |r| {
                format!(
                    "Clad aluminum sheet, {} mm",
                    pick(r, &["0.8", "1.0", "1.5"])
                )
            }),
            ("7606.12.3015", |r| {
                format!(
                    "Aluminum alloy plate {}-T651, {} mm",
                    pick(r, &["7075", "2024", "7050"]),
                    r.gen_range(7..=150u32)
                )
            }),
            ("7606.12.3025", |r| {
                format!(
                    "Aluminum alloy plate {}-T651, {} mm",
                    pick(r, &["6061", "6082"]),
                    r.gen_range(7..=100u32)
                )
            }),
            ("7606.12.6000", |r| {
                format!(
                    "Clad brazing sheet {}, {} mm",
                    pick(r, &["4343/3003", "4045/3003"]),
                    pick(r, &["0.6", "1.0", "1.5"])
                )
            }),
            ("7606.92.3025", |r| {
                format!(
                    "Aluminum alloy circles {}, over 6.3 mm, {} mm dia",
                    pick(r, &["3003", "5052"]),
                    r.gen_range(200..=900u32)
                )
            }),
            ("7606.92.3035", |r| {
                format!(
                    "Aluminum alloy discs {}, {} mm thick",
                    pick(r, &["3003-O", "1050-O", "3004-H14"]),
                    pick(r, &["1.0", "2.0", "3.0"])
                )
            }),
        ],
    },
    // 7607 Foil
    Family {
        weight: 12,
        price: (3_600, 6_000),
        kg: (1_000, 25_000),
        items: &[
            ("7607.11.3000", |r| {
                format!(
                    "Aluminum foil {}, {} mm, rolled, jumbo rolls",
                    pick(r, &["8011", "1235"]),
                    pick(r, &["0.006", "0.0065", "0.007"])
                )
            }),
            ("7607.11.9030", |r| {
                format!(
                    "Aluminum foil {}, {} mm, household",
                    pick(r, &["8011-O", "8079-O"]),
                    pick(r, &["0.010", "0.012", "0.015"])
                )
            }),
            ("7607.19.6000", |r| {
                format!(
                    "Aluminum foil {}, lacquered, {} mm",
                    pick(r, &["8011", "3003"]),
                    pick(r, &["0.03", "0.05", "0.09"])
                )
            }),
            ("7607.20.5000", |_| {
                "Aluminum foil backed with paper, for packaging".to_string()
            }),
        ],
    },
    // 7608 Tubes and pipes
    Family {
        weight: 6,
        price: (4_200, 6_000),
        kg: (1_000, 20_000),
        items: &[
            ("7608.10.0030", |r| {
                format!(
                    "Unalloyed aluminum seamless tube, {} mm OD",
                    r.gen_range(6..=60u32)
                )
            }),
            ("7608.10.0090", |r| {
                format!(
                    "Unalloyed aluminum welded tube 1100, {} mm OD",
                    r.gen_range(6..=60u32)
                )
            }),
            ("7608.20.0030", |r| {
                format!(
                    "Seamless drawn tube {}-T6, {} mm OD",
                    pick(r, &["6061", "2024", "7075"]),
                    r.gen_range(10..=120u32)
                )
            }),
            ("7608.20.0090", |r| {
                format!(
                    "Aluminum alloy tube {}, welded, {} mm OD",
                    pick(r, &["3003", "6063"]),
                    r.gen_range(8..=80u32)
                )
            }),
        ],
    },
    // 7609 Tube and pipe fittings
    Family {
        weight: 2,
        price: (5_000, 6_000),
        kg: (600, 5_000),
        items: &[("7609.00.0000", |r| {
            format!(
                "Aluminum pipe fittings: {}",
                pick(r, &["elbows", "couplings", "sleeves", "flanges"])
            )
        })],
    },
    // 7616.99.5160 / 7616.99.5170 Castings and forgings
    Family {
        weight: 5,
        price: (4_500, 6_000),
        kg: (700, 15_000),
        items: &[
            ("7616.99.5160", |r| {
                format!(
                    "Aluminum castings, {}",
                    pick(r, &["pump housings", "gearbox covers", "brackets"])
                )
            }),
            ("7616.99.5170", |r| {
                format!(
                    "Aluminum forgings, {}",
                    pick(r, &["wheel blanks", "suspension arms", "flanges"])
                )
            }),
        ],
    },
];

// ---------------------------------------------------------------------------------------------
// Random helpers: only u32/u64 ranges, so values do not depend on the platform's usize.

fn pick<'a, T: ?Sized>(rng: &mut ChaCha8Rng, items: &[&'a T]) -> &'a T {
    items[below(rng, items.len())]
}

fn below(rng: &mut ChaCha8Rng, len: usize) -> usize {
    // Drawn as u32, as ever, so that a seed gives the same files.
    let n = rng.gen_range(0..u32::try_from(len).unwrap_or(u32::MAX));
    usize::try_from(n).unwrap_or(0)
}

fn chance(rng: &mut ChaCha8Rng, percent: u32) -> bool {
    rng.gen_range(0..100u32) < percent
}

fn weighted<T>(rng: &mut ChaCha8Rng, items: &[T], weight: impl Fn(&T) -> u32) -> usize {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = rng.gen_range(0..total);
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if x < w {
            return i;
        }
        x -= w;
    }
    items.len() - 1
}

fn country(rng: &mut ChaCha8Rng) -> &'static Country {
    &COUNTRIES[weighted(rng, COUNTRIES, |c| c.weight)]
}

/// A country among the exporters other than `not`.
fn other_country(rng: &mut ChaCha8Rng, not: &str) -> &'static Country {
    loop {
        let c = country(rng);
        if c.code != not {
            return c;
        }
    }
}

/// A smelting country, weighted like origins.
fn smelter(rng: &mut ChaCha8Rng) -> &'static str {
    loop {
        let c = country(rng);
        if c.smelter {
            return c.code;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Check digit and XML writing.

/// CBP's modulus-10 check digit (the filing core's); the generator only feeds `[A-Z0-9]`.
fn check_digit(chars: &[u8]) -> u8 {
    crate::filing::checkdigit::mod10(chars).unwrap_or(0)
}

/// `FFF-NNNNNNN-C` with a correct check digit.
fn entry_number(rng: &mut ChaCha8Rng, filer_code: &str) -> String {
    let serial = format!("{:07}", rng.gen_range(0..10_000_000u32));
    let mut chars = filer_code.as_bytes().to_vec();
    chars.extend_from_slice(serial.as_bytes());
    format!("{filer_code}-{serial}-{}", check_digit(&chars))
}

/// Appends `<indent><name>value</name>\n`, the value escaped.
fn elem(out: &mut String, indent: &str, name: &str, value: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&quick_xml::escape::partial_escape(value));
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// A decimal from an integer count of `10^-scale` units, written with `decimals` (≤ `scale`)
/// fraction digits; the low digits being dropped must be zero.
fn decimal(units: u64, scale: u32, decimals: u32) -> String {
    let one = 10u64.pow(scale);
    let (int, frac) = (units / one, units % one);
    if decimals == 0 {
        debug_assert_eq!(frac, 0);
        return int.to_string();
    }
    let drop = 10u64.pow(scale - decimals);
    debug_assert_eq!(frac % drop, 0);
    format!("{int}.{:0width$}", frac / drop, width = decimals as usize)
}

// ---------------------------------------------------------------------------------------------
// Generation.

fn generate_file(opts: &GenOptions, index: usize) -> GeneratedFile {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(index as u64);
    let apps = opts.apps_per_file.max(1);

    let mut out = String::with_capacity(600 + apps * 2200);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">\n");
    out.push_str("  <Interchange>\n");
    elem(&mut out, "    ", "SenderId", &opts.sender);
    elem(
        &mut out,
        "    ",
        "ControlNumber",
        &format!("{:09}", control_number(opts.seed, index)),
    );
    let secs = rng.gen_range(0..86_400u32);
    let created = format!(
        "{}T{:02}:{:02}:{:02}Z",
        opts.today.format("%Y-%m-%d"),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    elem(&mut out, "    ", "CreatedAt", &created);
    out.push_str("  </Interchange>\n");

    // One filer per file, as a broker's batch would carry.
    let filer = &FILERS[below(&mut rng, FILERS.len())];
    for app in 1..=apps {
        write_application(&mut out, &mut rng, opts.today, filer, app);
    }
    out.push_str("</LicenseFiling>\n");

    GeneratedFile {
        name: file_name(opts, index),
        bytes: out.into_bytes(),
    }
}

#[allow(clippy::too_many_lines)] // one application written element by element, in the format's order
fn write_application(
    out: &mut String,
    rng: &mut ChaCha8Rng,
    today: NaiveDate,
    filer: &Filer,
    app: usize,
) {
    const I2: &str = "    ";
    const I3: &str = "      ";
    out.push_str(&format!("  <Application id=\"A{app}\" action=\"new\">\n"));

    out.push_str("    <Filer>\n");
    elem(out, I3, "Company", filer.company);
    elem(out, I3, "Street", filer.street);
    elem(out, I3, "City", filer.city);
    elem(out, I3, "State", filer.state);
    elem(out, I3, "PostalCode", filer.postal);
    elem(out, I3, "ContactName", filer.contact);
    elem(out, I3, "Phone", filer.phone);
    elem(out, I3, "Email", filer.email);
    out.push_str("    </Filer>\n");

    let ftz = chance(rng, 8);
    elem(
        out,
        I2,
        "EntryType",
        if ftz { "ftz" } else { "consumption" },
    );
    if chance(rng, 70) {
        elem(out, I2, "EntryNumber", &entry_number(rng, filer.code));
    }

    let origin = country(rng);
    let export = if chance(rng, 85) {
        origin
    } else {
        other_country(rng, origin.code)
    };

    // Manufacturers: 1–3 distinct producers of the country of origin, or UNKNOWN alone.
    let manufacturers: Vec<&str> = if chance(rng, 4) {
        vec!["UNKNOWN"]
    } else {
        let n = match rng.gen_range(0..100u32) {
            0..=69 => 1,
            70..=91 => 2,
            _ => 3,
        };
        let mut pool: Vec<&str> = origin.companies.to_vec();
        (0..n.min(pool.len()))
            .map(|_| pool.remove(below(rng, pool.len())))
            .collect()
    };
    let exporter = if export.code == origin.code && manufacturers[0] != "UNKNOWN" && chance(rng, 60)
    {
        manufacturers[0]
    } else {
        pick(rng, export.companies)
    };

    elem(out, I2, "Importer", pick(rng, IMPORTERS));
    elem(out, I2, "Exporter", exporter);
    for m in &manufacturers {
        elem(out, I2, "Manufacturer", m);
    }
    elem(out, I2, "CountryOfOrigin", origin.code);
    elem(out, I2, "CountryOfExportation", export.code);

    let import = today + Days::new(rng.gen_range(1..=45u64));
    let export_date = import - Days::new(rng.gen_range(0..=30u64));
    elem(
        out,
        I2,
        "ExpectedExportDate",
        &export_date.format("%Y-%m-%d").to_string(),
    );
    elem(
        out,
        I2,
        "ExpectedImportDate",
        &import.format("%Y-%m-%d").to_string(),
    );

    let port = match export.code {
        "CA" if chance(rng, 80) => pick(rng, PORTS_CA),
        "MX" if chance(rng, 80) => pick(rng, PORTS_MX),
        _ => pick(rng, filer.ports),
    };
    elem(out, I2, "PortOfEntry", port);

    // Products: 1–5 lines; a rare small "sample" shipment has a single light line.
    let sample = chance(rng, 2);
    let products = if sample {
        1
    } else {
        match rng.gen_range(0..100u32) {
            0..=49 => 1,
            50..=74 => 2,
            75..=87 => 3,
            88..=95 => 4,
            _ => 5,
        }
    };
    let numbering = rng.gen_range(0..10u32);
    let mut line = 0u32;
    for _ in 0..products {
        line = match numbering {
            0 => line + 10,                                                  // 10, 20, 30, ...
            1 => line + 1 + rng.gen_range(0..3u32) * rng.gen_range(0..4u32), // gaps
            _ => line + 1,                                                   // 1, 2, 3, ...
        };
        write_product(out, rng, origin, line, sample);
    }

    out.push_str("  </Application>\n");
}

fn write_product(
    out: &mut String,
    rng: &mut ChaCha8Rng,
    origin: &Country,
    line: u32,
    sample: bool,
) {
    const I3: &str = "      ";
    let family = &FAMILIES[weighted(rng, FAMILIES, |f| f.weight)];
    let (hts, describe) = &family.items[below(rng, family.items.len())];
    let hts = if chance(rng, 60) {
        (*hts).to_string()
    } else {
        hts.replace('.', "")
    };

    out.push_str(&format!("    <Product line=\"{line}\">\n"));
    elem(out, I3, "Hts", &hts);
    elem(out, I3, "Description", &describe(rng));

    // Smelt: secondary-only material now and then; otherwise the origin itself when it smelts,
    // else a smelting country, and a second smelt country in about 40% of cases.
    let (largest, second) = if chance(rng, 12) {
        ("NOT_APPLICABLE", "NOT_APPLICABLE")
    } else {
        let largest = if origin.smelter && chance(rng, 75) {
            origin.code
        } else {
            smelter(rng)
        };
        let second = if chance(rng, 40) {
            loop {
                let s = smelter(rng);
                if s != largest {
                    break s;
                }
            }
        } else {
            "NOT_APPLICABLE"
        };
        (largest, second)
    };
    // Unwrought metal is cast where it originates; semi-finished goods mostly are.
    let cast = if hts.starts_with("7601") || chance(rng, 85) {
        origin.code
    } else {
        country(rng).code
    };
    elem(out, I3, "LargestSmelt", largest);
    elem(out, I3, "SecondLargestSmelt", second);
    elem(out, I3, "MostRecentCast", cast);

    // Quantity in grams, rounded to the number of decimals it is written with.
    let (lo, hi) = if sample { (50, 400) } else { family.kg };
    let decimals = match rng.gen_range(0..100u32) {
        0..=39 => 0,
        40..=74 => 3,
        75..=89 => 1,
        _ => 2,
    };
    let step = 10u64.pow(3 - decimals);
    let grams = rng.gen_range(lo * 1000..=hi * 1000) / step * step;
    let grams = grams.max(step);
    // Value in cents: quantity (t) × unit price (cents per t), rounded half up.
    let cents_per_t = rng.gen_range(family.price.0 * 100..=family.price.1 * 100);
    let cents = (u128::from(grams) * u128::from(cents_per_t) + 500_000) / 1_000_000;
    let cents = u64::try_from(cents).unwrap_or(u64::MAX).max(1);
    elem(out, I3, "QuantityKg", &decimal(grams, 3, decimals));
    elem(out, I3, "CustomsValueUsd", &decimal(cents, 2, 2));
    out.push_str("    </Product>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn opts(seed: u64, count: usize, apps: usize) -> GenOptions {
        GenOptions {
            sender: "ACMEBRK".into(),
            count,
            apps_per_file: apps,
            seed,
            today: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
        }
    }

    fn text(f: &GeneratedFile) -> &str {
        std::str::from_utf8(&f.bytes).expect("UTF-8")
    }

    /// Raw (still escaped) values of every `<tag>` element, in document order.
    fn values<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let mut found = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find(&open) {
            let after = &rest[start + open.len()..];
            let end = after.find(&close).expect("closed");
            found.push(&after[..end]);
            rest = &after[end + close.len()..];
        }
        found
    }

    /// Each application's text, split at `<Application `.
    fn applications(xml: &str) -> Vec<&str> {
        xml.split("<Application ").skip(1).collect()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    /// (integer digits without leading zeros, decimals), checking `-?[0-9]+(\.[0-9]+)?`.
    fn digits(s: &str) -> (usize, usize) {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        assert!(
            !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()),
            "{s}"
        );
        assert!(
            (frac.is_empty() && !s.ends_with('.')) || frac.bytes().all(|b| b.is_ascii_digit()),
            "{s}"
        );
        (int.trim_start_matches('0').len(), frac.len())
    }

    fn cents(s: &str, scale: usize) -> u128 {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let frac = format!("{frac:0<scale$}");
        format!("{int}{frac}").parse().unwrap()
    }

    #[test]
    fn check_digit_examples_from_the_spec() {
        assert_eq!(check_digit(b"ABC1234567"), 6);
        assert_eq!(check_digit(b"9999999999"), 0);
        // License numbers use the same rule over 11 digits.
        assert_eq!(check_digit(b"20260000017"), 4);
        assert_eq!(check_digit(b"20260000123"), 5);
    }

    #[test]
    fn same_options_same_bytes_and_seeds_differ() {
        let a: Vec<_> = generate(&opts(7, 20, 3)).collect();
        let b: Vec<_> = generate(&opts(7, 20, 3)).collect();
        assert_eq!(a, b);
        let c: Vec<_> = generate(&opts(8, 20, 3)).collect();
        assert!(a.iter().zip(&c).all(|(x, y)| x.bytes != y.bytes));
        // Files do not depend on the ones before them.
        let tail: Vec<_> = generate(&opts(7, 20, 3)).skip(19).collect();
        assert_eq!(tail[0], a[19]);
    }

    #[test]
    fn count_names_and_applications() {
        let files: Vec<_> = generate(&opts(42, 25, 4)).collect();
        assert_eq!(files.len(), 25);
        assert_eq!(files[0].name, "acmebrk-42-000001.xml");
        assert_eq!(files[24].name, "acmebrk-42-000025.xml");
        let names: HashSet<_> = files.iter().map(|f| &f.name).collect();
        assert_eq!(names.len(), 25);
        for f in &files {
            let xml = text(f);
            assert!(xml.starts_with(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">\n"
            ));
            assert_eq!(values(xml, "SenderId"), ["ACMEBRK"]);
            let apps = applications(xml);
            assert_eq!(apps.len(), 4);
            for (k, app) in apps.iter().enumerate() {
                assert!(app.starts_with(&format!("id=\"A{}\" action=\"new\">", k + 1)));
            }
        }
        assert_eq!(generate(&opts(1, 0, 1)).count(), 0);
        let one = generate(&opts(1, 1, 0)).next().unwrap();
        assert_eq!(applications(text(&one)).len(), 1, "apps_per_file 0 → 1");
    }

    #[test]
    fn control_numbers_distinct_and_well_formed() {
        let files: Vec<_> = generate(&opts(123, 300, 1)).collect();
        let mut seen = HashSet::new();
        for f in &files {
            let cn = values(text(f), "ControlNumber");
            assert_eq!(cn.len(), 1);
            assert_eq!(cn[0].len(), 9);
            assert!(cn[0].bytes().all(|b| b.is_ascii_digit()));
            assert!(seen.insert(cn[0].to_string()), "repeated {}", cn[0]);
        }
        assert_eq!(control_number(123, 0), 123_000_001);
        assert_eq!(control_number(999, 999_999), 0);
        assert_eq!(control_number(5, 2_000_000), 7_000_001);
        let other: HashSet<_> = generate(&opts(124, 300, 1))
            .map(|f| values(text(&f), "ControlNumber")[0].to_string())
            .collect();
        assert!(seen.is_disjoint(&other));
    }

    #[test]
    fn well_formed_and_escaped() {
        let mut saw_amp = false;
        for f in generate(&opts(3, 60, 5)) {
            let mut reader = quick_xml::Reader::from_reader(&f.bytes[..]);
            let mut buf = Vec::new();
            loop {
                match reader.read_event_into(&mut buf) {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(_) => {}
                    Err(e) => panic!("{}: {e}", f.name),
                }
                buf.clear();
            }
            let xml = text(&f);
            for (i, _) in xml.match_indices('&') {
                assert!(
                    xml[i..].starts_with("&amp;")
                        || xml[i..].starts_with("&lt;")
                        || xml[i..].starts_with("&gt;"),
                    "{}",
                    f.name
                );
            }
            saw_amp |= xml.contains(" &amp; ");
            assert!(!xml.chars().any(|c| c.is_control() && c != '\n'));
        }
        assert!(saw_amp, "an escaped & somewhere in 60 files");
    }

    #[test]
    fn entry_numbers_have_valid_check_digits() {
        let mut n = 0;
        let mut absent = 0;
        for f in generate(&opts(11, 40, 5)) {
            let xml = text(&f);
            for app in applications(xml) {
                let en = values(app, "EntryNumber");
                if en.is_empty() {
                    absent += 1;
                    continue;
                }
                let en = en[0];
                let b = en.as_bytes();
                assert_eq!(b.len(), 13, "{en}");
                assert_eq!((b[3], b[11]), (b'-', b'-'), "{en}");
                assert!(
                    b[..3]
                        .iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                );
                assert!(b[4..11].iter().chain(&b[12..]).all(u8::is_ascii_digit));
                let chars: Vec<u8> = b[..3].iter().chain(&b[4..11]).copied().collect();
                assert_eq!(check_digit(&chars), b[12] - b'0', "{en}");
                n += 1;
            }
        }
        assert!(n > 50 && absent > 10, "{n} present, {absent} absent");
    }

    #[test]
    #[allow(clippy::too_many_lines)] // a test that walks one scenario through
    fn applications_follow_the_rules() {
        let o = opts(2026, 80, 5);
        let in_scope = |h: &str| {
            ["7601", "7604", "7605", "7606", "7607", "7608", "7609"].contains(&&h[..4])
                || h == "7616995160"
                || h == "7616995170"
        };
        let countries: HashSet<&str> = COUNTRIES.iter().map(|c| c.code).collect();
        let mut totals_over = 0;
        let mut apps_seen = 0;
        for f in generate(&o) {
            let xml = text(&f);
            let created = values(xml, "CreatedAt")[0];
            assert!(
                chrono::DateTime::parse_from_rfc3339(created).is_ok(),
                "{created}"
            );
            assert!(created.starts_with("2026-11-28T") && created.ends_with('Z'));
            for app in applications(xml) {
                apps_seen += 1;
                for tag in [
                    "EntryType",
                    "Importer",
                    "Exporter",
                    "CountryOfOrigin",
                    "CountryOfExportation",
                    "ExpectedExportDate",
                    "ExpectedImportDate",
                    "PortOfEntry",
                ] {
                    assert_eq!(values(app, tag).len(), 1, "{tag}");
                }
                assert!(["consumption", "ftz"].contains(&values(app, "EntryType")[0]));
                let port = values(app, "PortOfEntry")[0];
                assert!(port.len() == 4 && port.bytes().all(|b| b.is_ascii_digit()));
                for tag in ["CountryOfOrigin", "CountryOfExportation"] {
                    assert!(countries.contains(values(app, tag)[0]));
                }
                let m = values(app, "Manufacturer");
                assert!((1..=3).contains(&m.len()));
                assert!(!m.contains(&"UNKNOWN") || m.len() == 1);
                assert_eq!(m.iter().collect::<HashSet<_>>().len(), m.len());

                let import = date(values(app, "ExpectedImportDate")[0]);
                let export = date(values(app, "ExpectedExportDate")[0]);
                let days = (import - o.today).num_days();
                assert!((1..=45).contains(&days), "{days}");
                let lead = (import - export).num_days();
                assert!((0..=30).contains(&lead), "{lead}");

                let lines: Vec<u32> = app
                    .split("<Product line=\"")
                    .skip(1)
                    .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
                    .collect();
                assert!((1..=5).contains(&lines.len()));
                assert!(lines.iter().all(|l| (1..=999).contains(l)));
                assert_eq!(lines.iter().collect::<HashSet<_>>().len(), lines.len());

                let mut total = 0u128;
                let products: Vec<&str> = app.split("<Product ").skip(1).collect();
                assert_eq!(products.len(), lines.len());
                for p in products {
                    let hts = values(p, "Hts")[0];
                    let plain = hts.replace('.', "");
                    assert!(plain.len() == 10 && plain.bytes().all(|b| b.is_ascii_digit()));
                    assert!(
                        hts.len() == 10
                            || (hts.len() == 12 && &hts[4..5] == "." && &hts[7..8] == ".")
                    );
                    assert!(in_scope(&plain), "{hts}");
                    let d = values(p, "Description")[0];
                    assert!(!d.is_empty() && d.chars().count() <= 200);

                    let largest = values(p, "LargestSmelt")[0];
                    let second = values(p, "SecondLargestSmelt")[0];
                    let cast = values(p, "MostRecentCast")[0];
                    assert!(largest == "NOT_APPLICABLE" || countries.contains(largest));
                    assert!(second == "NOT_APPLICABLE" || countries.contains(second));
                    if largest == "NOT_APPLICABLE" {
                        assert_eq!(second, "NOT_APPLICABLE");
                    }
                    assert!(second == "NOT_APPLICABLE" || second != largest);
                    assert!(countries.contains(cast));

                    let q = values(p, "QuantityKg")[0];
                    let v = values(p, "CustomsValueUsd")[0];
                    let (qi, qd) = digits(q);
                    let (vi, vd) = digits(v);
                    assert!(qi <= 12 && qd <= 3, "{q}");
                    assert!(vi <= 12 && vd == 2, "{v}");
                    let (qm, vc) = (cents(q, 3), cents(v, 2));
                    assert!(qm > 0 && vc > 0, "{q} {v}");
                    // Unit value per metric ton: (vc / 100) / (qm / 1e6).
                    let unit = vc * 10_000 / qm;
                    assert!(
                        (1_900..=6_100).contains(&unit),
                        "{q} kg for {v} USD: {unit}/t"
                    );
                    total += vc;
                }
                if total >= 250_000 {
                    totals_over += 1;
                }
            }
        }
        assert_eq!(apps_seen, 400);
        assert!(
            totals_over >= apps_seen * 9 / 10,
            "{totals_over} of {apps_seen} over USD 2,500"
        );
    }

    #[test]
    fn lazily_generates_many() {
        // Only the first few of a huge run are ever built.
        let o = opts(9, 100_000, 2);
        let mut it = generate(&o);
        assert_eq!(it.next().unwrap().name, "acmebrk-9-000001.xml");
        assert_eq!(it.size_hint(), (99_999, Some(99_999)));
        assert_eq!(file_name(&o, 99_999), "acmebrk-9-100000.xml");
        assert_eq!(file_name(&o, 1_234_566), "acmebrk-9-1234567.xml");
    }
}

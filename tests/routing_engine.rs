//! The decision engine on the repository's tables: one table-driven case per
//! rule of docs/routing.md, the accuracy floor on the labelled sets, table
//! validation errors, and the explain/eval output formats. No broker.

mod support;

use std::path::Path;
use std::sync::OnceLock;

use pintu::routing::{cli, validate_dir, Engine, ReportType, RoutingError};
use support::repo;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::load(&repo().join("config/routing"), &repo().join("config/wilayah")).unwrap())
}

struct Case {
    rule: &'static str,
    subject: Option<&'static str>,
    text: &'static str,
    category: Option<&'static str>,
    region: Option<&'static str>,
    agency: &'static str,
}

const fn case(
    rule: &'static str,
    text: &'static str,
    category: Option<&'static str>,
    region: Option<&'static str>,
    agency: &'static str,
) -> Case {
    Case {
        rule,
        subject: None,
        text,
        category,
        region,
        agency,
    }
}

const CASES: &[Case] = &[
    // Rule 1: category, and its tie-break.
    case(
        "1 category",
        "puskesmas tutup siang hari, pasien terlantar",
        Some("kesehatan"),
        None,
        "kemenkes",
    ),
    case("1 no category -> triage", "selamat pagi min", None, None, "triage"),
    case("1 nothing discarded", "asdfgh 12345", None, None, "triage"),
    case(
        "1 tie-break: bribe at dukcapil is pungli",
        "di disdukcapil kab karawang disuruh bayar 200rb biar ktp cepet jadi. tlg pungli ini ditindak",
        Some("pungli"),
        Some("3215"),
        "3215.inspektorat",
    ),
    case(
        "1 tie-break: what is asked to be fixed",
        "air pdam gk ngalir krn pompa mati waktu listrik padam. mhn pdam kirim mobil tangki, kab gowa",
        Some("air-bersih"),
        Some("7306"),
        "7306.pdam",
    ),
    case(
        "1 SMS spelling",
        "tlg dicek, jln dpn rmh sy berlubang bsr, sdh 2 bln blm diperbaiki, kab sleman",
        Some("pekerjaan-umum"),
        Some("3404"),
        "3404.dpupr",
    ),
    case(
        "1 hashtags and emoji",
        "😡😡 #jalanrusak #jalantol ruas kab kendal bolong2 🙏",
        Some("pekerjaan-umum"),
        Some("3324"),
        "kemenpu",
    ),
    // Rule 2: region.
    case(
        "2 alias Jaksel",
        "sampah numpuk di jaksel",
        Some("lingkungan"),
        Some("3171"),
        "3171.dlh",
    ),
    case(
        "2 alias Tangsel",
        "izin usaha di tangsel lama",
        Some("perizinan"),
        Some("3674"),
        "3674.dpmptsp",
    ),
    case(
        "2 alias Jogja",
        "ktp blm jadi di jogja",
        Some("kependudukan"),
        Some("3471"),
        "3471.disdukcapil",
    ),
    case(
        "2 alias Bdg",
        "perpanjang SIM di bdg lama",
        Some("kepolisian"),
        Some("3273"),
        "3273.polres",
    ),
    case(
        "2 alias Sby",
        "gaji di bawah UMK sby",
        Some("ketenagakerjaan"),
        Some("3578"),
        "3578.disnaker",
    ),
    case(
        "2 alias Mks",
        "pengemis di lampu merah mks, dinsos tolong",
        Some("sosial"),
        Some("7371"),
        "7371.dinsos",
    ),
    case(
        "2 mks as the last word is makasih",
        "jalan depan sekolah berlubang besar tolong dicek mks",
        Some("pekerjaan-umum"),
        None,
        "kemenpu",
    ),
    case(
        "2 mks as the last word after a place word is Makassar",
        "banyak pengemis anak di lampu merah di mks",
        Some("sosial"),
        Some("7371"),
        "7371.dinsos",
    ),
    case(
        "2 a misspelt city name after kota",
        "jalan berlubang besar di depan pasar kota probolingo belum diperbaiki",
        Some("pekerjaan-umum"),
        Some("3574"),
        "3574.dpupr",
    ),
    case(
        "2 a misspelt regency name after kabupaten",
        "tanah longsor menimbun dua rumah warga di kabupaten bojonegro, mohon bantuan darurat",
        Some("bencana"),
        Some("3522"),
        "3522.bpbd",
    ),
    case(
        "2 an everyday word after kota is no place",
        "jalan berlubang besar di kota sebelah belum diperbaiki",
        Some("pekerjaan-umum"),
        None,
        "kemenpu",
    ),
    case(
        "2 a district opening the text before a comma names the place",
        "rungkut, tiap malam ada truk buang limbah cair ke sungai dekat pabrik, baunya menyengat",
        Some("lingkungan"),
        Some("3578"),
        "3578.dlh",
    ),
    case(
        "2 the same district later in lower case stays weak",
        "tiap malam ada truk buang limbah ke sungai rungkut kata warga",
        Some("lingkungan"),
        None,
        "klh",
    ),
    case(
        "2 an everyday word opening the text is no place",
        "ibu, tiap malam ada truk buang limbah cair ke sungai",
        Some("lingkungan"),
        None,
        "klh",
    ),
    case(
        "2 a district beside an everyday regency name: each names the other",
        "nelayan kramatwatu serang, mesin perahu kami sering dicuri malam2 di dermaga",
        Some("kepolisian"),
        Some("3604"),
        "3604.polres",
    ),
    case(
        "2 the everyday regency name alone is the word",
        "jangan serang kami pak, tiap malam ada truk buang limbah ke sungai",
        Some("lingkungan"),
        None,
        "klh",
    ),
    case(
        "5 bare kemenag with a regency named is the regency's office",
        "madrasah ibtidaiyah di kab garut gedungnya mau roboh murid belajar di teras tolong kemenag bantu",
        Some("agama"),
        Some("3205"),
        "3205.kemenag",
    ),
    case(
        "5 bare kemenag with no place is the ministry",
        "madrasah ibtidaiyah gedungnya mau roboh murid belajar di teras tolong kemenag bantu",
        Some("agama"),
        None,
        "kemenag",
    ),
    case(
        "5 bare kominfo with a city named is the city's diskominfo",
        "sinyal internet di kota madiun hilang total sejak tower dibongkar mohon kominfo bantu",
        Some("komunikasi"),
        Some("3577"),
        "3577.diskominfo",
    ),
    case(
        "5 the Kapolda addressed is the Polda of the province named after it",
        "Kepada Yth. Kapolda Jawa Tengah, kasus penganiayaan adik saya di Kabupaten Batang tidak diproses polres",
        Some("kepolisian"),
        Some("3325"),
        "33.polda",
    ),
    case(
        "3 a regency tax at the kantor pajak daerah stays the regency's",
        "sppt pbb rumah saya salah luas tanah, ke kantor pajak daerah kab rembang disuruh bolak balik",
        Some("pajak"),
        Some("3317"),
        "3317.bapenda",
    ),
    case(
        "3 an income-tax return at the kantor pajak is djp",
        "spt tahunan saya di kota malang ditolak kantor pajak",
        Some("pajak"),
        Some("3573"),
        "djp",
    ),
    case(
        "1 a phone snatched at a terminal is a crime, not transport",
        "hp saya dijambret di dekat terminal bus pas nunggu angkot",
        Some("kepolisian"),
        None,
        "polri",
    ),
    case(
        "1 letters drawn out for emphasis are the word (SMS in capitals)",
        "TOLONGGG PAK JALANNN DEPAN RUMAHHH RUSAKKK PARAHHH",
        Some("pekerjaan-umum"),
        None,
        "kemenpu",
    ),
    case(
        "1 consonant skeletons of SMS words",
        "jln rsk prh dpn sklh anak2 srg jth",
        Some("pekerjaan-umum"),
        None,
        "kemenpu",
    ),
    case(
        "2 plg after a verb is pulang",
        "dokter gigi puskesmas cuma datang hari rabu pasien lain disuruh plg",
        Some("kesehatan"),
        None,
        "kemenkes",
    ),
    case(
        "2 alias Plg",
        "sampah di tps plg blm diangkut",
        Some("lingkungan"),
        Some("1671"),
        "1671.dlh",
    ),
    case(
        "2 Jkt is the province",
        "parkir liar di jkt makin parah",
        Some("perhubungan"),
        Some("31"),
        "31.dishub",
    ),
    case(
        "2 shared name = city",
        "angkot ngetem di bogor bikin macet",
        Some("perhubungan"),
        Some("3271"),
        "3271.dishub",
    ),
    case(
        "2 kab before shared name",
        "angkot ngetem di kab bogor bikin macet",
        Some("perhubungan"),
        Some("3201"),
        "3201.dishub",
    ),
    case(
        "2 kab. with dot",
        "Kab. Bekasi: THR blm dibayar",
        Some("ketenagakerjaan"),
        Some("3216"),
        "3216.disnaker",
    ),
    case(
        "2 Kabupaten in full",
        "Kabupaten Semarang jalan rusak parah",
        Some("pekerjaan-umum"),
        Some("3322"),
        "3322.dpupr",
    ),
    case(
        "2 longest name",
        "pupuk langka di kab padang pariaman",
        Some("pertanian"),
        Some("1306"),
        "1306.distan",
    ),
    case(
        "2 unique district",
        "motor dicuri di kec wenang",
        Some("kepolisian"),
        Some("7171"),
        "7171.polres",
    ),
    case(
        "2 ambiguous district alone gives no region",
        "motor sy dicuri di kecamatan sukajadi",
        Some("kepolisian"),
        None,
        "polri",
    ),
    case(
        "2 ambiguous district with its regency",
        "calo SIM di satpas Cibinong, Bogor. ini pungli",
        Some("pungli"),
        Some("3201"),
        "3201.inspektorat",
    ),
    case(
        "2 province only",
        "penyuluh pertanian di nusa tenggara timur kurang",
        Some("pertanian"),
        Some("53"),
        "53.distan",
    ),
    case(
        "2 common word is no place",
        "nasib malang, bansos sy gk cair",
        Some("sosial"),
        None,
        "kemensos",
    ),
    // Rule 3: level overrides.
    case(
        "3 SMA -> province",
        "ppdb sma di malang tdk transparan",
        Some("pendidikan"),
        Some("3573"),
        "35.disdik",
    ),
    case(
        "3 SMK -> province",
        "SMK negeri di kab bandung barat tahan ijazah",
        Some("pendidikan"),
        Some("3217"),
        "32.disdik",
    ),
    case(
        "3 SLB -> province",
        "slb di kota kupang kurang guru",
        Some("pendidikan"),
        Some("5371"),
        "53.disdik",
    ),
    case(
        "3 SD stays regency",
        "guru SD di kota kupang sering bolos mengajar",
        Some("pendidikan"),
        Some("5371"),
        "5371.disdik",
    ),
    case(
        "3 kampus -> national",
        "UKT kampus negeri di kota padang naik",
        Some("pendidikan"),
        Some("1371"),
        "kemendiktisaintek",
    ),
    case(
        "3 pajak kendaraan -> province",
        "antrian samsat kota medan 4 jam",
        Some("pajak"),
        Some("1275"),
        "12.bapenda",
    ),
    case(
        "3 NPWP -> djp",
        "NPWP sy nonaktif, kota pontianak",
        Some("pajak"),
        Some("6171"),
        "djp",
    ),
    case(
        "3 PBB stays regency",
        "tagihan PBB naik 3x, kab belitung",
        Some("pajak"),
        Some("1902"),
        "1902.bapenda",
    ),
    case(
        "3 jalan tol -> kemenpu",
        "jalan tol di kab kendal berlubang",
        Some("pekerjaan-umum"),
        Some("3324"),
        "kemenpu",
    ),
    case(
        "3 jalan nasional -> kemenpu",
        "jalan nasional di kab sigi rusak",
        Some("pekerjaan-umum"),
        Some("7210"),
        "kemenpu",
    ),
    // Rule 4: units.
    case(
        "4 regency unit",
        "puskesmas kota ambon tutup",
        Some("kesehatan"),
        Some("8171"),
        "8171.dinkes",
    ),
    case(
        "4 no regency unit -> national (kependudukan, province)",
        "KK salah tulis nama, sy di provinsi jawa tengah",
        Some("kependudukan"),
        Some("33"),
        "dukcapil",
    ),
    case(
        "4 province unit",
        "sampah di hutan lindung kalimantan tengah",
        Some("lingkungan"),
        Some("62"),
        "62.dlh",
    ),
    case(
        "4 national-only category",
        "token listrik tidak masuk, kota palu",
        Some("listrik"),
        Some("7271"),
        "pln",
    ),
    case(
        "4 pertanahan province unit",
        "sengketa tanah di sulawesi selatan",
        Some("pertanahan"),
        Some("73"),
        "73.kanwil-bpn",
    ),
    case(
        "4 agama province unit",
        "antrean haji di sulawesi selatan",
        Some("agama"),
        Some("73"),
        "73.kanwil-kemenag",
    ),
    // Rule 5: explicit addressee.
    case(
        "5 national office",
        "Kepada Yth. Ombudsman RI, pungutan di kantor kelurahan di Kota Bekasi",
        Some("pungli"),
        Some("3275"),
        "ombudsman",
    ),
    case(
        "5 office with its own province",
        "Yth. Kepala Dinas Kesehatan Provinsi Jawa Timur, IGD RSUD di Kabupaten Jember lambat",
        Some("kesehatan"),
        Some("3509"),
        "35.dinkes",
    ),
    case(
        "5 handle",
        "@KemensosRI PKH ibu sy di Kab. Lombok Timur gk cair",
        Some("sosial"),
        Some("5203"),
        "kemensos",
    ),
    case("5 @PLN123", "@pln123 token gak masuk2", Some("listrik"), None, "pln"),
    case(
        "5 polda",
        "Kepada Polda Papua, begal di Abepura makin sering",
        Some("kepolisian"),
        Some("9471"),
        "94.polda",
    ),
    case(
        "5 national office + setempat = regional unit",
        "KUA di Kabupaten Majene tunda akad nikah. Mohon Kementerian Agama setempat memberi solusi",
        Some("agama"),
        Some("7601"),
        "7601.kemenag",
    ),
    case(
        "5 office as a place is not the addressee",
        "ktp blm jadi 5 bln di disdukcapil kab tangerang",
        Some("kependudukan"),
        Some("3603"),
        "3603.disdukcapil",
    ),
];

#[test]
fn every_rule() {
    let e = engine();
    let mut failures = Vec::new();
    for c in CASES {
        let d = e.decide(c.subject, c.text);
        let got = (d.category.as_deref(), d.region.as_deref(), d.agency.as_str());
        let want = (c.category, c.region, c.agency);
        if got != want {
            failures.push(format!(
                "[{}] {:?}\n   want {want:?}\n   got  {got:?}\n   reasons {:#?}",
                c.rule, c.text, d.reasons
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn report_types() {
    let e = engine();
    for (text, want) in [
        ("saran agar satpol pp rutin patroli di alun2", ReportType::Aspirasi),
        ("usul dibangun jembatan di desa kami", ReportType::Aspirasi),
        ("mhn dipertimbangkan rehab gedung madrasah", ReportType::Aspirasi),
        ("bagaimana cara mengurus akta kematian?", ReportType::Informasi),
        ("syaratnya apa aja buat daftar KIP?", ReportType::Informasi),
        ("mohon info cara daftar kartu tani", ReportType::Informasi),
        ("listrik padam, tdk ada info dr pln", ReportType::Pengaduan),
        ("vaksin kosong terus. gimana nih?", ReportType::Pengaduan),
    ] {
        assert_eq!(e.decide(None, text).report_type, want, "{text}");
    }
}

#[test]
fn flags_and_markers() {
    let e = engine();
    let d = e.decide(None, "RAHASIA ANONIM pegawai kantor camat minta uang rokok. kab sikka");
    assert!(d.confidential && d.anonymous);
    assert!(!d.text.contains("RAHASIA") && !d.text.contains("ANONIM"), "{}", d.text);
    assert_eq!(d.agency, "5310.inspektorat");

    let d = e.decide(
        Some("[RAHASIA] Pungutan di kantor kelurahan"),
        "pungutan liar di Kota Bekasi",
    );
    assert!(d.confidential && !d.anonymous);
    assert_eq!(d.subject.as_deref(), Some("Pungutan di kantor kelurahan"));

    let d = e.decide(None, "#anonim #rahasia jalan rusak di kab bogor");
    assert!(d.confidential && d.anonymous);

    let d = e.decide(None, "kerahasiaan data pasien bocor di rumah sakit");
    assert!(
        !d.confidential && !d.anonymous,
        "a word containing a marker is not a marker"
    );
}

#[test]
fn e_mail_subject_and_quoted_history() {
    let e = engine();
    let d = e.decide(
        Some("Re: Tagihan listrik melonjak"),
        "Mohon dicek meterannya. Kota Palu.\n\nOn Kam, 4 Jul 2024, Markus wrote:\n> sampah di Kota Bekasi",
    );
    assert_eq!(d.category.as_deref(), Some("listrik"));
    assert_eq!(d.region.as_deref(), Some("7271"), "quoted history names no place");
}

#[test]
fn decisions_are_deterministic() {
    let e = engine();
    for c in CASES {
        assert_eq!(e.decide(c.subject, c.text), e.decide(c.subject, c.text));
    }
}

fn eval(file: &str) -> cli::EvalReport {
    let examples = cli::read_examples(&repo().join(file)).unwrap();
    cli::evaluate(engine(), &examples)
}

#[test]
fn dev_set_accuracy_at_least_95_percent() {
    let r = eval("tests/data/complaints-dev.jsonl");
    assert_eq!(r.n, 120);
    for f in ["category", "agency"] {
        assert!(
            r.accuracy(f) >= 0.95,
            "{f}: {:.3}; errors: {:#?}",
            r.accuracy(f),
            r.errors
        );
    }
    for f in cli::FIELDS {
        assert!(r.accuracy(f) >= 0.9, "{f}: {:.3}", r.accuracy(f));
    }
}

#[test]
fn own_set_accuracy_at_least_95_percent() {
    let r = eval("tests/data/complaints-router.jsonl");
    assert!(r.n >= 90);
    for f in ["category", "agency", "region"] {
        assert!(
            r.accuracy(f) >= 0.95,
            "{f}: {:.3}; errors: {:#?}",
            r.accuracy(f),
            r.errors
        );
    }
}

#[test]
fn eval_json_is_one_object() {
    let out = cli::eval_with(engine(), &repo().join("tests/data/complaints-dev.jsonl"), true).unwrap();
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["n"], 120);
    for f in cli::FIELDS {
        let a = v["accuracy"][f].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&a));
    }
    assert!(v["errors"].is_array());
}

#[test]
fn explain_shows_reasons() {
    let text = cli::explain(engine(), "puskesmas di jaksel tutup", None, false);
    assert!(text.contains("agency:       3171.dinkes"), "{text}");
    assert!(text.contains("'puskesmas'"), "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&cli::explain(engine(), "puskesmas di jaksel tutup", None, true)).unwrap();
    assert_eq!(v["agency"], "3171.dinkes");
    assert_eq!(v["report_type"], "pengaduan");
    assert!(v["reasons"].as_array().is_some_and(|r| !r.is_empty()));
}

/// Copy the tables to a temp dir, apply `edit` to one file, validate.
fn validate_with(file: &str, edit: impl Fn(String) -> String) -> Result<(), RoutingError> {
    let dir = tempfile::tempdir().unwrap();
    let routing = dir.path().join("routing");
    std::fs::create_dir(&routing).unwrap();
    for entry in std::fs::read_dir(repo().join("config/routing")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let mut s = std::fs::read_to_string(&p).unwrap();
        if name == file {
            s = edit(s);
        }
        std::fs::write(routing.join(&name), s).unwrap();
    }
    validate_dir(&routing, &repo().join("config/wilayah"))
}

fn line_error(r: Result<(), RoutingError>) -> (String, usize, String) {
    match r {
        Err(RoutingError::Table { file, line, msg }) => (
            Path::new(&file).file_name().unwrap().to_str().unwrap().to_string(),
            line,
            msg,
        ),
        other => panic!("expected a table error, got {other:?}"),
    }
}

#[test]
fn shipped_tables_validate() {
    validate_dir(&repo().join("config/routing"), &repo().join("config/wilayah")).unwrap();
}

#[test]
fn table_errors_name_file_and_line() {
    let (f, line, msg) = line_error(validate_with("lexicon.txt", |s| s + "[kesehatan]\nx: puskesmas\n"));
    assert_eq!(f, "lexicon.txt");
    assert_eq!(line, 1 + validate_lines("lexicon.txt"));
    assert!(msg.contains("not a number"), "{msg}");

    let (f, _, msg) = line_error(validate_with("lexicon.txt", |s| s + "[kesehatn]\n2: dokter\n"));
    assert_eq!(f, "lexicon.txt");
    assert!(msg.contains("unknown category `kesehatn`"), "{msg}");

    let (f, _, msg) = line_error(validate_with("regions.txt", |s| {
        s.replace("jaksel = KOTA JAKARTA SELATAN", "jaksel = KOTA JAKARTA SELATN")
    }));
    assert_eq!(f, "regions.txt");
    assert!(msg.contains("KOTA JAKARTA SELATN"), "{msg}");

    let (f, _, msg) = line_error(validate_with("agencies.txt", |s| s + "\nfoo = listrik regency\n"));
    assert_eq!(f, "agencies.txt");
    assert!(msg.contains("no regency unit"), "{msg}");

    let (f, _, msg) = line_error(validate_with("overrides.txt", |s| {
        s + "\npendidikan | somewhere else | sma\n"
    }));
    assert_eq!(f, "overrides.txt");
    assert!(msg.contains("agency code"), "{msg}");

    let (f, _, msg) = line_error(validate_with("abbreviations.txt", |s| s + "\nk b = kabupaten\n"));
    assert_eq!(f, "abbreviations.txt");
    assert!(msg.contains("one word"), "{msg}");
}

fn validate_lines(file: &str) -> usize {
    std::fs::read_to_string(repo().join("config/routing").join(file))
        .unwrap()
        .lines()
        .count()
        + 1
}

#[test]
fn a_keyword_change_needs_no_code_change() {
    // Before: an unknown word. After adding it to the lexicon: a category.
    // The text has no other evidence: with own-f in the training data,
    // `pekarangan warga` leans to sosial enough to outweigh one new term.
    let text = "ada ular kobra di kebun belakang";
    assert_eq!(engine().decide(None, text).category, None);
    let dir = tempfile::tempdir().unwrap();
    let routing = dir.path().join("routing");
    std::fs::create_dir(&routing).unwrap();
    for entry in std::fs::read_dir(repo().join("config/routing")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, routing.join(p.file_name().unwrap())).unwrap();
    }
    let lex = routing.join("lexicon.txt");
    let s = std::fs::read_to_string(&lex).unwrap() + "\n[bencana]\n3: ular kobra\n";
    std::fs::write(&lex, s).unwrap();
    let e = Engine::load(&routing, &repo().join("config/wilayah")).unwrap();
    assert_eq!(e.decide(None, text).category.as_deref(), Some("bencana"));
}

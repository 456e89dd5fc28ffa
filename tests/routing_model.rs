//! The learned router (docs/routing.md rules 1, 6, 7–9 and issue classes): table
//! cases written for each failure class, the anonymity of routed complaints,
//! channel context, the review threshold, `pintu train` reproducing the
//! committed model, and an accuracy floor on the never-tuned holdout set.

mod support;

use std::sync::OnceLock;

use chrono::Utc;
use pintu::complaint::{Complaint, Flags};
use pintu::routing::{cli, train, ChannelRegion, Engine, RouteOptions};
use pintu_channels::{Attachment, Channel, Sender, SenderKind};
use support::repo;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::load(&repo().join("config/routing"), &repo().join("config/wilayah")).unwrap())
}

/// (class, text, category, region, agency, report type)
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

/// Written for this test, one or more per failure class of the router issue;
/// none of them is in the training data.
const CASES: &[Case] = &[
    (
        "1 prayer",
        "Semoga Allah memberi kesehatan dan kelancaran rezeki buat kita semua, aamiin",
        None,
        None,
        "triage",
        "pengaduan",
    ),
    (
        "1 advert",
        "Promo pulsa murah 100rb cuma 95rb, hub WA 0812-0000-1111, cepat sebelum kehabisan",
        None,
        None,
        "triage",
        "pengaduan",
    ),
    (
        "1 withdrawal",
        "laporan saya kemarin soal lampu jalan tolong dibatalkan saja, sudah diperbaiki tadi pagi",
        None,
        None,
        "triage",
        "pengaduan",
    ),
    (
        "1 opinion",
        "capres nomor 2 paling cocok, yang lain cuma janji manis",
        None,
        None,
        "triage",
        "pengaduan",
    ),
    (
        "2 aid cut by facilitator",
        "pendamping PKH di desa kami motong uang bantuan 50rb tiap pencairan, katanya buat uang bensin",
        Some("pungli"),
        None,
        "ombudsman",
        "pengaduan",
    ),
    (
        "2 village official's share",
        "kades minta jatah 20 persen dari BLT dana desa, kab. grobogan",
        Some("pungli"),
        Some("3315"),
        "3315.inspektorat",
        "pengaduan",
    ),
    (
        "2 BPJS in a hospital",
        "di RSUD kartu BPJS ibu saya ditolak katanya tidak aktif padahal iuran rutin dibayar",
        Some("jaminan-kesehatan"),
        None,
        "bpjs-kesehatan",
        "pengaduan",
    ),
    (
        "2 violent repossession",
        "motor sy dirampas paksa debt collector leasing di jalan, sy dipukul",
        Some("kepolisian"),
        None,
        "polri",
        "pengaduan",
    ),
    (
        "2 illness from tap water",
        "air PDAM keruh dan bau, anak2 di gang kami kena diare semua",
        Some("air-bersih"),
        None,
        "kemenpu",
        "pengaduan",
    ),
    (
        "2 schoolchildren on the road",
        "angkot ugal-ugalan tiap pagi bawa anak sekolah sampai berdiri di pintu, bahaya",
        Some("perhubungan"),
        None,
        "kemenhub",
        "pengaduan",
    ),
    (
        "3 traffic light slang",
        "bangjo di perempatan dekat pasar mati sejak kemarin, macet parah",
        Some("perhubungan"),
        None,
        "kemenhub",
        "pengaduan",
    ),
    (
        "3 government website down",
        "website pemkab tidak bisa diakses dari seminggu, mau daftar online gagal terus",
        Some("komunikasi"),
        None,
        "komdigi",
        "pengaduan",
    ),
    (
        "3 waqf land",
        "sertifikat tanah wakaf masjid kami belum jadi padahal sudah 2 tahun",
        Some("pertanahan"),
        None,
        "atr-bpn",
        "pengaduan",
    ),
    (
        "3 flood pump",
        "pompa banjir di kampung kami mati pas hujan deras, air masuk rumah",
        Some("pekerjaan-umum"),
        None,
        "kemenpu",
        "pengaduan",
    ),
    (
        "3 vehicle tax paid online",
        "sudah bayar pajak motor lewat e-samsat tapi di aplikasi masih tertunggak, kota bekasi",
        Some("pajak"),
        Some("3275"),
        "32.bapenda",
        "pengaduan",
    ),
    (
        "4 spt = seperti",
        "jalan depan rumah rusak spt kubangan kerbau, kab. sragen",
        Some("pekerjaan-umum"),
        Some("3314"),
        "3314.dpupr",
        "pengaduan",
    ),
    (
        "4 plg = pulang",
        "mau plg kerja jalan gelap krn lampu jalan mati semua",
        Some("perhubungan"),
        None,
        "kemenhub",
        "pengaduan",
    ),
    (
        "4 smg = semoga",
        "jalan depan sekolah berlubang besar smg lancar perbaikannya",
        Some("pekerjaan-umum"),
        None,
        "kemenpu",
        "pengaduan",
    ),
    (
        "5 procedure question",
        "syarat bikin akta kelahiran apa aja ya min?",
        Some("kependudukan"),
        None,
        "dukcapil",
        "informasi",
    ),
    (
        "5 mohon in a complaint",
        "jalan berlubang sudah 3 bulan, mohon segera diperbaiki",
        Some("pekerjaan-umum"),
        None,
        "kemenpu",
        "pengaduan",
    ),
    (
        "6 split regency name",
        "jalan rusak parah di tulung agung",
        Some("pekerjaan-umum"),
        Some("3504"),
        "3504.dpupr",
        "pengaduan",
    ),
    (
        "6 district + bare shared name",
        "PJU mati di kecamatan cibinong bogor",
        Some("perhubungan"),
        Some("3201"),
        "3201.dishub",
        "pengaduan",
    ),
    (
        "7 national handle",
        "@KemnakerRI gaji kami di kab bekasi dibayar di bawah UMK",
        Some("ketenagakerjaan"),
        Some("3216"),
        "kemnaker",
        "pengaduan",
    ),
    (
        "7 local tax",
        "pajak reklame di kota malang naik tiga kali lipat tanpa sosialisasi",
        Some("pajak"),
        Some("3573"),
        "3573.bapenda",
        "pengaduan",
    ),
    (
        "7 regency religious office",
        "kantor kemenag kab garut lambat urus rekomendasi haji",
        Some("agama"),
        Some("3205"),
        "3205.kemenag",
        "pengaduan",
    ),
];

#[test]
fn every_failure_class() {
    let mut failures = Vec::new();
    for &(class, text, category, region, agency, report) in CASES {
        let d = engine().decide(None, text);
        let got = (
            d.category.as_deref(),
            d.region.as_deref(),
            d.agency.as_str(),
            d.report_type.as_str(),
        );
        if got != (category, region, agency, report) {
            failures.push(format!("[{class}] {text:?}\n  got {got:?}\n  {:#?}", d.reasons));
        }
        assert!(
            (0.0..=1.0).contains(&d.confidence),
            "{class}: confidence {}",
            d.confidence
        );
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn reasons_name_the_evidence_and_the_confidence() {
    let d = engine().decide(None, "pendamping PKH motong uang bantuan 50rb tiap pencairan");
    let cat = d
        .reasons
        .iter()
        .find(|r| r.starts_with("category pungli"))
        .expect("category reason");
    assert!(cat.contains("(p ") && cat.contains("cue pair pungli +"), "{cat}");
    let text = cli::explain(engine(), "pendamping PKH motong uang bantuan 50rb", None, false);
    assert!(text.contains("confidence:"), "{text}");
}

fn complaint(channel: Channel, text: &str) -> Complaint {
    Complaint {
        schema: 1,
        id: ulid::Ulid::new().to_string(),
        tracking: "LPR-TEST01".into(),
        received_at: Utc::now(),
        channel,
        provider: "whatsapp".into(),
        external_id: Some("wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA=".into()),
        sender: Some(Sender {
            kind: SenderKind::Msisdn,
            address: "+6281234567890".into(),
            display_name: Some("Siti Aminah".into()),
        }),
        recipient: Some("6281100001708".into()),
        subject: None,
        text: text.into(),
        attachments: vec![Attachment {
            name: "foto.jpg".into(),
            content_type: "image/jpeg".into(),
            size: 1000,
            sha256: String::new(),
            reference: Some("media-id-of-the-sender".into()),
        }],
        flags: Flags::default(),
        in_reply_to: Some("LPR-EARLY1".into()),
        parts: 1,
        fingerprint: "0".into(),
        routing: None,
    }
}

#[test]
fn anonymous_complaints_carry_nothing_that_leads_back() {
    let c = complaint(
        Channel::Whatsapp,
        "ANONIM kades minta jatah 20 persen dari BLT dana desa, kab. grobogan. hub saya 0812-3456-7890",
    );
    let out = engine().route(&c, Utc::now());
    assert!(out.flags.anonymous);
    assert_eq!(out.sender, None);
    assert_eq!(out.external_id, None, "a wamid encodes the sender");
    assert_eq!(out.in_reply_to, None, "a link to an earlier, named complaint");
    assert!(
        out.attachments.iter().all(|a| a.reference.is_none()),
        "media references"
    );
    assert!(!out.text.contains("ANONIM"), "the marker is removed: {}", out.text);
    let wire = serde_json::to_string(&out).unwrap();
    for secret in [
        "6281234567890",
        "0812-3456-7890",
        "Siti",
        "wamid",
        "media-id",
        "LPR-EARLY1",
    ] {
        assert!(!wire.contains(secret), "`{secret}` reached the agency: {wire}");
    }
    // The same complaint without the marker keeps everything for the agency.
    let named = engine().route(
        &complaint(Channel::Whatsapp, "kades minta jatah dari BLT dana desa"),
        Utc::now(),
    );
    assert!(named.sender.is_some() && named.external_id.is_some() && named.in_reply_to.is_some());
}

#[test]
fn channel_default_region_only_when_the_text_names_no_place() {
    let opts = RouteOptions {
        review_below: 0.0,
        channel_regions: vec![ChannelRegion {
            channel: Channel::Whatsapp,
            recipient: "6281100001708".into(),
            region: "3273".into(),
        }],
    };
    let route = |ch, text| {
        let r = engine()
            .route_with(&complaint(ch, text), Utc::now(), &opts)
            .routing
            .unwrap();
        (r.region, r.agency)
    };
    let no_place = "jalan berlubang besar di depan pasar, sudah ada yang jatuh";
    assert_eq!(
        route(Channel::Whatsapp, no_place),
        (Some("3273".into()), "3273.dpupr".into())
    );
    // A place the text names wins over the channel's default.
    assert_eq!(
        route(Channel::Whatsapp, "jalan berlubang besar di kab. sragen"),
        (Some("3314".into()), "3314.dpupr".into())
    );
    // Another channel with the same recipient string has no default.
    assert_eq!(route(Channel::Sms, no_place), (None, "kemenpu".into()));
}

#[test]
fn low_confidence_goes_to_triage_with_a_suggestion() {
    let text = "tolong dicek ya pak yang di sana itu";
    let plain = engine().route(&complaint(Channel::Sms, "jalan berlubang di kab. sragen"), Utc::now());
    let r = plain.routing.unwrap();
    assert_eq!(r.agency, "3314.dpupr");
    assert_eq!(r.suggested_agency, None, "threshold 0: nothing held back");
    let conf = r.confidence.unwrap();
    // Just above this decision's confidence: held back, guess kept.
    let opts = RouteOptions {
        review_below: (conf + 0.001).min(1.0),
        channel_regions: vec![],
    };
    let held = engine()
        .route_with(
            &complaint(Channel::Sms, "jalan berlubang di kab. sragen"),
            Utc::now(),
            &opts,
        )
        .routing
        .unwrap();
    assert_eq!(held.agency, "triage");
    assert_eq!(held.suggested_agency.as_deref(), Some("3314.dpupr"));
    assert!(
        held.reasons.iter().any(|r| r.contains("review_below")),
        "{:?}",
        held.reasons
    );
    // Just below: it stands.
    let opts = RouteOptions {
        review_below: conf - 0.001,
        channel_regions: vec![],
    };
    let kept = engine()
        .route_with(
            &complaint(Channel::Sms, "jalan berlubang di kab. sragen"),
            Utc::now(),
            &opts,
        )
        .routing
        .unwrap();
    assert_eq!(kept.agency, "3314.dpupr");
    // A text with no category is triage whatever the threshold, with no
    // suggestion invented for it when no category came close.
    let vague = engine().decide(None, text);
    assert_eq!(vague.agency, "triage");
}

fn holdout(file: &str) -> cli::EvalReport {
    let examples = cli::read_examples(&repo().join("tests/data").join(file)).unwrap();
    assert!(examples.len() >= 200, "{file} has {} examples", examples.len());
    cli::evaluate(engine(), &examples)
}

/// A floor well below today's score (README): it fails on a regression
/// without inviting tuning to the holdout set, which no training run reads.
#[test]
fn holdout_floor_and_honest_confidence() {
    let r = holdout("complaints-holdout.jsonl");
    for (field, floor) in [
        ("category", 0.82),
        ("agency", 0.80),
        ("region", 0.92),
        ("report_type", 0.92),
    ] {
        assert!(
            r.accuracy(field) >= floor,
            "{field}: {:.3} < {floor}",
            r.accuracy(field)
        );
    }
    // Rule 9: decisions the router is surer of are right more often.
    let pc = r.precision_coverage();
    let all = pc[0].2;
    let sure = pc.iter().find(|(t, _, _)| *t == 0.9).map(|x| x.2).unwrap();
    assert!(
        sure > all,
        "precision at 0.9 ({sure:.3}) must beat all decisions ({all:.3})"
    );
}

/// The second never-tuned set, written in the way citizens really write
/// (tests/data/README.md): the same kind of floor, well below today's figure.
#[test]
fn real_style_holdout_floor() {
    let r = holdout("complaints-holdout-real.jsonl");
    for (field, floor) in [
        ("category", 0.80),
        ("agency", 0.80),
        ("region", 0.92),
        ("report_type", 0.92),
    ] {
        assert!(
            r.accuracy(field) >= floor,
            "{field}: {:.3} < {floor}",
            r.accuracy(field)
        );
    }
}

#[test]
fn training_files_exclude_the_holdout() {
    let dir = repo().join("config/routing");
    let files = train::training_files(&dir, &dir).unwrap();
    assert!(files.len() >= 5, "{files:?}");
    assert!(files.iter().all(|f| f.exists()), "{files:?}");
    assert!(
        !files.iter().any(|f| f.to_string_lossy().contains("holdout")),
        "{files:?}"
    );
}

/// The shipped model is exactly what the data and the code make: training
/// again on the listed files reproduces `model.tsv` byte for byte (and twice
/// in a row gives the same bytes).
#[test]
fn train_reproduces_the_committed_model() {
    let dir = repo().join("config/routing");
    let files = train::training_files(&dir, &dir).unwrap();
    let trained = train::train(&dir, &repo().join("config/wilayah"), &files, false).unwrap();
    let committed = std::fs::read_to_string(dir.join(pintu::routing::MODEL_FILE)).unwrap();
    if trained.model != committed {
        let line = trained
            .model
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "model.tsv differs from `pintu train` output from line {}: train again and commit it",
            line + 1
        );
    }
    assert!(trained.summary.contains("held-out accuracy"), "{}", trained.summary);
}

#[test]
fn check_rejects_bad_routing_settings() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo().join("config/pintu.toml"))
        .unwrap()
        .replace("review_below = 0.0\n", "");
    // `keys` go into [routing]; `tables` ([[routing.channel_regions]]) at the end.
    let write = |keys: &str, tables: &str| {
        let routing = format!(
            "[routing]\ndir = {:?}\nwilayah_dir = {:?}\n{keys}",
            repo().join("config/routing").display().to_string(),
            repo().join("config/wilayah").display().to_string(),
        );
        let toml = base.replace("[routing]\ndir = \"routing\"\n", &routing) + tables;
        assert!(
            toml.contains("wilayah_dir"),
            "config/pintu.toml has a [routing] section"
        );
        let path = dir.path().join("pintu.toml");
        std::fs::write(&path, toml).unwrap();
        pintu::config::Config::load(&path).unwrap()
    };
    let region = |code: &str| {
        format!("\n[[routing.channel_regions]]\nchannel = \"sms\"\nrecipient = \"1708\"\nregion = \"{code}\"\n")
    };
    let ok = write("review_below = 0.6\n", &region("3273"));
    pintu::routing::validate_config(&ok).unwrap();
    let e = pintu::routing::validate_config(&write("", &region("9999")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("channel_regions[0].region") && e.contains("9999"), "{e}");
    let e = pintu::routing::validate_config(&write("review_below = 1.5\n", ""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("review_below"), "{e}");
}

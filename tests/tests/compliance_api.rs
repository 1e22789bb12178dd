//! End-to-end tests of the compliance read API over HTTP on the local platform (embedded and AWS
//! on moto): evidence is fed through the compliance engine on two days, then the frameworks,
//! controls and reports endpoints must show it: the control failing with its latest results, its
//! two-day history and effectiveness, SOC 2 readiness, the controls list filtered by status, and
//! the coverage and effectiveness reports as JSON and as CSV downloads.

use chrono::{Duration, Utc};
use kushim::{BackendChoice, Platform, PlatformOptions};
use kushim_checks::{CheckResult, Status};
use kushim_compliance::Compliance;
use kushim_domain::TenantId;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const CHECK: &str = "aws.iam.user_mfa_console";
const CONTROL: &str = "KC-IAM-01";

async fn start(dir: &std::path::Path, aws: bool) -> Platform {
    let backend = if aws {
        let moto = kushim_testkit::moto().await;
        let sdk = kushim_testkit::sdk_config(moto).await;
        BackendChoice::Aws { prefix: kushim_testkit::unique_prefix(), sdk: Some(Box::new(sdk)) }
    } else {
        BackendChoice::Embedded
    };
    Platform::start(PlatformOptions {
        port: 0,
        data_dir: dir.to_path_buf(),
        backend,
        schedules: false,
        cors_origins: Vec::new(),
        paused_consumers: Vec::new(),
    })
    .await
    .unwrap()
}

struct Reply {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(platform: &Platform) -> Self {
        Self { base: platform.url.clone(), http: reqwest::Client::new() }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, content_type, headers, body, text }
    }

    /// Signs up a tenant; returns (tenant id, access token).
    async fn signup(&self, org: &str, email: &str) -> (String, String) {
        let body = json!({"tenant_name": org, "email": email, "name": "Owner", "password": PASSWORD});
        let resp = self
            .http
            .post(format!("{}/v1/auth/signup", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let session: Value = resp.json().await.unwrap();
        (session["tenant_id"].as_str().unwrap().to_owned(), session["access_token"].as_str().unwrap().to_owned())
    }
}

fn assert_problem(r: &Reply, status: u16, type_suffix: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    assert_eq!(r.body["type"], format!("https://kushim.dev/problems/{type_suffix}"), "{}", r.text);
}

fn ok(r: &Reply) -> &Value {
    assert_eq!(r.status, 200, "{}", r.text);
    &r.body
}

fn result(resource: &str, status: Status, reason: &str) -> CheckResult {
    CheckResult { check_id: CHECK.into(), resource_id: resource.into(), status, reason: reason.into() }
}

async fn compliance_reads(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws).await;
    let api = Api::new(&platform);
    let (tenant, t) = api.signup("Comply", "owner@comply.test").await;
    let (_, other) = api.signup("Other", "owner@other.test").await;

    // Evidence on two days: yesterday every user had MFA, today alice lost it.
    let compliance = Compliance::new(platform.backends.table().unwrap());
    let tenant_id = TenantId::new(&tenant).unwrap();
    let today = Utc::now();
    let yesterday = today - Duration::days(1);
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let day1 = [result(alice, Status::Pass, "alice signs in with MFA."), result(bob, Status::Pass, "bob uses MFA.")];
    compliance.record_results(&tenant_id, "run-1", &day1, yesterday).await.unwrap();
    let day2 =
        [result(alice, Status::Fail, "alice signs in to the console without MFA."), result(bob, Status::Pass, "ok")];
    compliance.record_results(&tenant_id, "run-2", &day2, today).await.unwrap();
    let (d1, d2) = (yesterday.date_naive().to_string(), today.date_naive().to_string());

    // The control: failing, with its mappings, checks and latest results.
    let control = api.get(&format!("/v1/controls/{CONTROL}"), &t).await;
    let c = ok(&control);
    assert_eq!(c["id"], CONTROL);
    assert_eq!(c["kind"], "automated");
    assert_eq!(c["evaluation"]["status"], "failing", "{}", control.text);
    assert_eq!((c["evaluation"]["failed"].as_u64(), c["evaluation"]["passed"].as_u64()), (Some(1), Some(1)));
    assert!(c["evaluation"]["reasons"].as_array().is_some_and(|r| !r.is_empty()), "{}", control.text);
    let soc2 = c["mappings"].as_array().unwrap().iter().find(|m| m["framework"] == "soc2").expect("mapped to soc2");
    assert!(soc2["requirements"].as_array().unwrap().iter().any(|r| r["id"] == "CC6.1" && r["title"].is_string()));
    assert!(c["checks"].as_array().unwrap().iter().any(|k| k["id"] == CHECK && k["severity"].is_string()));
    let results: Vec<(&str, &str)> = c["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["resource_id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(results, [(alice, "fail"), (bob, "pass")]);

    // Its history: two days, passing then failing, and the effectiveness over them.
    for path in [format!("/v1/controls/{CONTROL}/history"), format!("/v1/controls/{CONTROL}/history?from={d1}&to={d2}")]
    {
        let history = api.get(&path, &t).await;
        let h = ok(&history);
        assert_eq!(h["days"], json!([{"date": d1, "status": "passing"}, {"date": d2, "status": "failing"}]), "{path}");
        let e = &h["effectiveness"];
        assert_eq!((e["days_observed"].as_i64(), e["days_passing"].as_i64()), (Some(2), Some(1)), "{e}");
        assert_eq!((e["days_failing"].as_i64(), e["longest_failing_streak"].as_i64()), (Some(1), Some(1)), "{e}");
        assert_eq!(e["share_passing"].as_f64(), Some(0.5));
        assert_eq!(e["remediations"], json!([{"failed_on": d2, "remediated_on": null}]));
    }
    let narrow = api.get(&format!("/v1/controls/{CONTROL}/history?from={d2}&to={d2}"), &t).await;
    assert_eq!(ok(&narrow)["effectiveness"]["days_in_window"], 1);
    assert_eq!(narrow.body["days"].as_array().unwrap().len(), 1);
    for bad in ["?from=yesterday".to_owned(), format!("?from={d2}&to={d1}"), "?from=2020-01-01&to=2025-01-01".into()] {
        let r = api.get(&format!("/v1/controls/{CONTROL}/history{bad}"), &t).await;
        assert_problem(&r, 400, "invalid-request");
    }
    assert_problem(&api.get("/v1/controls/KC-NOPE-99", &t).await, 404, "not-found");
    assert_problem(&api.get("/v1/controls/KC-NOPE-99/history", &t).await, 404, "not-found");

    // The frameworks: four, with SOC 2 readiness counting the failing control.
    let frameworks = api.get("/v1/frameworks", &t).await;
    let items = ok(&frameworks)["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["soc2", "iso27001", "hipaa", "nist_csf"]);
    let soc2 = &items[0];
    assert!(soc2["requirements"].as_u64().unwrap() >= 61, "{soc2}");
    let readiness = &soc2["readiness"];
    let counts = &readiness["by_status"];
    assert_eq!((counts["failing"].as_u64(), counts["passing"].as_u64()), (Some(1), Some(0)), "{readiness}");
    assert_eq!(counts["not_started"].as_u64().unwrap() + 1, readiness["controls"].as_u64().unwrap(), "{readiness}");
    assert_eq!(readiness["share_passing"].as_f64(), Some(0.0));
    let detail = api.get("/v1/frameworks/soc2", &t).await;
    let d = ok(&detail);
    assert_eq!(d["readiness"], *readiness);
    let cc61 = d["requirements"].as_array().unwrap().iter().find(|r| r["id"] == "CC6.1").expect("CC6.1");
    assert_eq!(cc61["kind"], "criterion");
    let mapped = cc61["controls"].as_array().unwrap().iter().find(|c| c["id"] == CONTROL).expect("KC-IAM-01");
    assert_eq!(mapped["status"], "failing");
    assert_problem(&api.get("/v1/frameworks/pci", &t).await, 404, "not-found");

    // The controls list, filtered.
    let failing = api.get("/v1/controls?status=failing", &t).await;
    let listed: Vec<&str> =
        ok(&failing)["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [CONTROL]);
    let iam = api.get("/v1/controls?framework=soc2&area=identity_access", &t).await;
    let iam = ok(&iam)["items"].as_array().unwrap();
    assert!(iam.iter().all(|c| c["area"] == "identity_access"));
    assert!(iam.iter().any(|c| c["id"] == CONTROL && c["status"] == "failing"));
    let all = api.get("/v1/controls", &t).await;
    assert!(ok(&all)["items"].as_array().unwrap().len() > iam.len());
    for bad in ["status=broken", "framework=pci", "area=nowhere"] {
        assert_problem(&api.get(&format!("/v1/controls?{bad}"), &t).await, 400, "invalid-request");
    }

    // The coverage report as JSON and as a CSV download.
    let coverage = api.get("/v1/reports/coverage?framework=soc2", &t).await;
    let cov = ok(&coverage);
    assert_eq!(coverage.content_type, "application/json");
    let cc61 = cov["items"].as_array().unwrap().iter().find(|r| r["id"] == "CC6.1").expect("CC6.1");
    assert_eq!(cc61["coverage"], "automated");
    assert!(cc61["controls"].as_array().unwrap().iter().any(|c| c == CONTROL));
    assert_eq!(cov["requirements"], cov["items"].as_array().unwrap().len());
    let csv = api.get("/v1/reports/coverage?framework=soc2&format=csv", &t).await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let disposition = csv.headers.get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(disposition, "attachment; filename=\"kushim-coverage-soc2.csv\"");
    let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], kushim_compliance::report::COVERAGE_CSV_HEADER);
    assert_eq!(lines.len(), 1 + cov["items"].as_array().unwrap().len());
    assert!(lines.iter().any(|l| l.starts_with("soc2,CC6.1,") && l.contains(CONTROL)));
    assert_problem(&api.get("/v1/reports/coverage", &t).await, 400, "invalid-request");
    assert_problem(&api.get("/v1/reports/coverage?framework=soc2&format=xml", &t).await, 400, "invalid-request");

    // The effectiveness report over the two days, as JSON and as CSV.
    let window = format!("framework=soc2&from={d1}&to={d2}");
    let eff = api.get(&format!("/v1/reports/effectiveness?{window}"), &t).await;
    let e = ok(&eff);
    assert_eq!(e["longest_failing_control"], CONTROL, "{}", eff.text);
    assert_eq!((e["control_days_failing"].as_i64(), e["open_failures"].as_u64()), (Some(1), Some(1)));
    let row = e["controls"].as_array().unwrap().iter().find(|c| c["control_id"] == CONTROL).expect("KC-IAM-01");
    assert_eq!(row["effectiveness"]["days_observed"], 2);
    let eff_csv = api.get(&format!("/v1/reports/effectiveness?{window}&format=csv"), &t).await;
    assert_eq!(eff_csv.status, 200, "{}", eff_csv.text);
    assert_eq!(eff_csv.content_type, "text/csv; charset=utf-8");
    let disposition = eff_csv.headers.get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(disposition, format!("attachment; filename=\"kushim-effectiveness-soc2-{d1}-{d2}.csv\""));
    assert!(eff_csv.text.starts_with(kushim_compliance::report::EFFECTIVENESS_CSV_HEADER));
    assert!(eff_csv.text.lines().any(|l| l.starts_with(&format!("soc2,{CONTROL},"))));

    // Another tenant sees none of it.
    let theirs = api.get(&format!("/v1/controls/{CONTROL}"), &other).await;
    assert_eq!(ok(&theirs)["evaluation"]["status"], "not_started");
    assert_eq!(theirs.body["results"], json!([]));
    let theirs = api.get(&format!("/v1/controls/{CONTROL}/history"), &other).await;
    assert_eq!(ok(&theirs)["days"], json!([]));
    let theirs = api.get("/v1/controls?status=failing", &other).await;
    assert_eq!(ok(&theirs)["items"], json!([]));
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_compliance_reads() {
    compliance_reads(false).await;
}

#[tokio::test]
async fn aws_compliance_reads_on_moto() {
    compliance_reads(true).await;
}

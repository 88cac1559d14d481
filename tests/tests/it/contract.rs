//! `docs/contract.md` held against what implements it, where they overlap: its route list
//! (section 15) against the runner's routes, `template.yaml`'s HTTP API events and the
//! `openapi.yaml` the runner serves, with each route's success statuses; its webhook resource
//! (section 5.1) against the OpenAPI schema of a webhook.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;
use shared::api::{Authorizer, Function, routes};

use crate::helpers::TestApp;

const CONTRACT: &str = include_str!("../../../docs/contract.md");
const TEMPLATE: &str = include_str!("../../../template.yaml");

/// `"GET"` and `"/api/event-types"`.
type Route = (String, String);

/// One row of section 15.
#[derive(Debug, PartialEq)]
struct Listed {
    function: String,
    authorizer: String,
    success: BTreeSet<u16>,
}

/// The text of a section, from its heading to the next one of its level.
fn section<'a>(heading: &str) -> &'a str {
    let start = CONTRACT.find(heading).unwrap_or_else(|| panic!("docs/contract.md has no {heading:?}"));
    let rest = &CONTRACT[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// Section 15: method, path, function, authorizer, success statuses, a row each.
fn listed() -> BTreeMap<Route, Listed> {
    section("## 15. Every route")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> =
                line.split('|').map(|c| c.trim().trim_matches('`')).filter(|c| !c.is_empty()).collect();
            let [method, path, function, authorizer, success] = cells[..] else { panic!("section 15 row {line:?}") };
            let success = success.split(',').map(|s| s.trim().parse().expect("a status")).collect();
            let (function, authorizer) = (function.to_string(), authorizer.to_string());
            ((method.to_string(), path.to_string()), Listed { function, authorizer, success })
        })
        .collect()
}

/// Section 15's function and authorizer of each route.
fn functions_listed() -> BTreeMap<Route, (String, String)> {
    listed().into_iter().map(|(route, row)| (route, (row.function, row.authorizer))).collect()
}

/// An authorizer as section 15 names it.
fn authorizer_name(authorizer: Authorizer) -> String {
    format!("{authorizer:?}").to_lowercase()
}

/// A function's package, which is its binary's name: `RotateSecret` is `rotate-secret`.
fn package(function: Function) -> String {
    let mut name = String::new();
    for (i, c) in format!("{function:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("a string, not {value:?}")).to_string()
}

fn mapping(value: &Value) -> &serde_yaml_ng::Mapping {
    value.as_mapping().unwrap_or_else(|| panic!("a mapping, not {value:?}"))
}

#[test]
fn the_contract_lists_every_route_the_runner_serves_with_its_function() {
    let listed = functions_listed();
    let served = routes()
        .into_iter()
        .map(|r| ((r.method.to_string(), r.path), (package(r.function), authorizer_name(r.authorizer))))
        .collect();
    assert_eq!(listed, served, "docs/contract.md section 15 against shared::api::routes()");
}

#[test]
fn each_api_functions_main_serves_its_own_entry_of_the_route_table() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for function in routes().into_iter().map(|r| r.function).filter(|f| *f != Function::Console) {
        let main = root.join("functions").join(package(function)).join("src/main.rs");
        let text = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{}: {e}", main.display()));
        assert!(text.contains(&format!("Function::{function:?})")), "{} serves Function::{function:?}", main.display());
    }
}

#[test]
fn the_template_sends_each_route_to_the_function_the_contract_names() {
    let template: Value = serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML");
    let mut declared = BTreeMap::new();
    for resource in mapping(&template["Resources"]).values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        let events = resource["Properties"]["Events"].as_mapping().into_iter().flat_map(|e| e.values());
        for event in events.filter(|e| e["Type"].as_str() == Some("HttpApi")) {
            let route = (text(&event["Properties"]["Method"]).to_uppercase(), text(&event["Properties"]["Path"]));
            // The API's default authorizer is the JWT one.
            let authorizer = match event["Properties"]["Auth"]["Authorizer"].as_str() {
                None | Some("JwtAuthorizer") => "jwt",
                Some("PortalAuthorizer") => "portal",
                Some("NONE") => "none",
                Some(other) => panic!("{route:?}: the authorizer {other}"),
            };
            let declared_as = (binary.clone(), authorizer.to_string());
            assert!(declared.insert(route.clone(), declared_as).is_none(), "{route:?} declared twice");
        }
    }
    let listed = functions_listed();
    assert_eq!(declared, listed, "template.yaml's HttpApi events against docs/contract.md section 15");
}

#[tokio::test]
async fn the_served_openapi_document_has_each_api_route_with_the_contracts_success_statuses() {
    let app = TestApp::memory().await;
    let response = app.client.get(format!("{}/api/openapi.yaml", app.base)).send().await.expect("get the spec");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let spec: Value = serde_yaml_ng::from_str(&response.text().await.expect("text")).expect("openapi.yaml is YAML");

    let mut described = BTreeMap::new();
    for (path, item) in mapping(&spec["paths"]) {
        for (method, operation) in mapping(item).iter().filter(|(k, _)| text(k) != "parameters") {
            let success = mapping(&operation["responses"])
                .keys()
                .map(|status| text(status).parse::<u16>().expect("a numeric status"))
                .filter(|status| (200..300).contains(status))
                .collect::<BTreeSet<_>>();
            described.insert((text(method).to_uppercase(), text(path)), success);
        }
    }
    // The document describes the API; the console's routes, and its own, are not operations.
    let listed: BTreeMap<Route, BTreeSet<u16>> = listed()
        .into_iter()
        .filter(|((_, path), row)| path.starts_with("/api/") && row.function != "console")
        .map(|(route, row)| (route, row.success))
        .collect();
    assert_eq!(described, listed, "openapi.yaml's operations and 2xx statuses against docs/contract.md section 15");
}

#[test]
fn the_contracts_webhook_has_the_fields_of_openapis() {
    let resource = section("### 5.1 Webhook resource");
    let json = &resource[resource.find("```json").expect("a JSON block") + "```json".len()..];
    let example: serde_json::Value = serde_json::from_str(&json[..json.find("```").expect("its end")]).expect("JSON");
    let fields: BTreeSet<String> = example.as_object().expect("an object").keys().cloned().collect();

    let spec: Value = serde_yaml_ng::from_str(include_str!("../../../openapi.yaml")).expect("openapi.yaml is YAML");
    let schema = &spec["components"]["schemas"]["Webhook"];
    let required: BTreeSet<String> = schema["required"].as_sequence().expect("required").iter().map(text).collect();
    assert_eq!(fields, required, "docs/contract.md 5.1 against openapi.yaml's Webhook.required");
    for optional in mapping(&schema["properties"]).keys().map(text).filter(|k| !required.contains(k)) {
        assert!(
            CONTRACT.contains(&format!("`{optional}`")),
            "openapi.yaml's Webhook.{optional} is not in docs/contract.md"
        );
    }
}

/// Issue 25, finding 8: every function's rights on the table name the partitions it may touch
/// (`dynamodb:LeadingKeys`; the stack test's IAM audit holds each call to them), none all.
#[test]
fn every_functions_table_rights_name_the_partitions_it_may_touch() {
    let template: Value = serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML");
    let mut checked = 0;
    for (name, resource) in mapping(&template["Resources"]) {
        // A function's own policies, and the policies several functions' roles share.
        let properties = &resource["Properties"];
        let documents =
            properties["Policies"].as_sequence().into_iter().flatten().chain([&properties["PolicyDocument"]]);
        let statements = documents.flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default());
        let on_the_table =
            statements.filter(|s| serde_yaml_ng::to_string(&s["Action"]).is_ok_and(|a| a.contains("dynamodb:")));
        for statement in on_the_table {
            let keys = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            let keys: Vec<String> =
                keys.as_sequence().unwrap_or_else(|| panic!("{name:?}: no LeadingKeys")).iter().map(text).collect();
            assert!(!keys.is_empty() && keys.iter().all(|k| k != "*"), "{name:?}: {keys:?}");
            checked += 1;
        }
    }
    assert!(checked >= 18, "every table statement was found ({checked})");
}

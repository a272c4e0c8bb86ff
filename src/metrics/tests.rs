//! The EMF line against CloudWatch's specification, and the template's alarms against the
//! metrics the function really emits.

use super::*;
use crate::outcome::{Outcome, TriggerKind};
use std::collections::BTreeSet;
use std::time::Duration;
use strum::IntoEnumIterator;
use yaml_rust2::{Yaml, YamlLoader};

const NAMESPACE: &str = "TenantProvisioning/test";

/// CloudWatch's `StandardUnit` values, the only units EMF accepts.
const STANDARD_UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

fn every_report() -> Vec<Report> {
    let mut reports = Vec::new();
    for trigger in [
        TriggerKind::PostConfirmation,
        TriggerKind::TokenGeneration,
        TriggerKind::Other,
    ] {
        for outcome in Outcome::iter() {
            for foreign_org in [false, true] {
                reports.push(Report {
                    trigger,
                    outcome,
                    foreign_org,
                });
            }
        }
    }
    reports
}

fn line(report: &Report) -> Value {
    Metrics::new(NAMESPACE).line(
        report,
        "request-1",
        Duration::from_micros(12_345),
        SystemTime::now(),
    )
}

/// Checks one document against the specification ("Specification: Embedded metric format",
/// CloudWatch user guide) and returns the metric names it defines.
fn assert_emf(document: &Value) -> Vec<String> {
    let root = document.as_object().expect("the root is a JSON object");
    let metadata = root["_aws"].as_object().expect("_aws is an object");
    let timestamp = metadata["Timestamp"]
        .as_u64()
        .expect("Timestamp: milliseconds since the epoch, a number");
    let now = millis_since_epoch(SystemTime::now());
    assert!(now.abs_diff(timestamp) < 60_000, "Timestamp is now");
    let directives = metadata["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty());
    let mut names = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace string");
        assert!((1..=255).contains(&namespace.len()));
        assert!(!namespace.starts_with("AWS/"), "AWS/ is reserved");
        let dimension_sets = directive["Dimensions"]
            .as_array()
            .expect("Dimensions array");
        for set in dimension_sets {
            let set = set.as_array().expect("a DimensionSet is an array");
            assert!(!set.is_empty() && set.len() <= 30);
            for key in set {
                let key = key.as_str().expect("dimension keys are strings");
                let value = root[key].as_str().expect("each dimension is a root string");
                assert!(!value.is_empty() && value.len() <= 1024 && value.is_ascii());
            }
        }
        let definitions = directive["Metrics"].as_array().expect("Metrics array");
        assert!(!definitions.is_empty() && definitions.len() <= 100);
        for definition in definitions {
            let definition = definition.as_object().expect("a MetricDefinition object");
            let name = definition["Name"].as_str().expect("Name string");
            assert!((1..=255).contains(&name.len()));
            let unit = definition["Unit"].as_str().expect("Unit string");
            assert!(STANDARD_UNITS.contains(&unit), "{unit} is a StandardUnit");
            assert!(
                root[name].is_number(),
                "the value of {name} is a root number"
            );
            names.push(name.to_owned());
        }
    }
    let unique: BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "no metric defined twice");
    names
}

#[test]
fn every_line_the_function_can_print_is_valid_emf() {
    for report in every_report() {
        let document = line(&report);
        let names = assert_emf(&document);
        let mut expected = vec![report.outcome.metric_name()];
        if report.foreign_org {
            expected.push(FOREIGN_ORGANISATION);
        }
        expected.push(DURATION);
        assert_eq!(names, expected, "{report:?}");
        assert_eq!(document[report.outcome.metric_name()], 1);
        assert_eq!(document["outcome"], report.outcome.as_str());
        assert_eq!(document["trigger"], report.trigger.as_str());
        assert_eq!(document[DIMENSION], SERVICE);
        assert_eq!(document["requestId"], "request-1");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            NAMESPACE
        );
    }
}

#[test]
fn the_duration_is_in_milliseconds() {
    let document = line(&Report::new(TriggerKind::PostConfirmation, Outcome::Minted));
    assert_eq!(document[DURATION].as_f64(), Some(12.345));
}

#[test]
fn each_outcome_has_a_metric_of_its_own() {
    let names: BTreeSet<_> = Outcome::iter().map(|o| o.metric_name()).collect();
    assert_eq!(names.len(), Outcome::iter().count());
    assert!(!names.contains(FOREIGN_ORGANISATION) && !names.contains(DURATION));
}

/// Every metric name any line can carry.
fn emitted_names() -> BTreeSet<String> {
    every_report()
        .iter()
        .flat_map(|report| assert_emf(&line(report)))
        .collect()
}

fn template() -> Yaml {
    // Tags (!Sub, !Ref, ...) are dropped by the loader, leaving their values.
    YamlLoader::load_from_str(include_str!("../../template.yaml"))
        .expect("template.yaml is YAML")
        .remove(0)
}

fn resources_of_type<'a>(template: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    template["Resources"]
        .as_hash()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(name, resource)| (name.as_str().unwrap_or_default(), resource))
        .collect()
}

/// The template's alarms on the function's own namespace watch metrics it emits, with the
/// dimension it emits; the rest watch the function in AWS/Lambda. Checked by name, so that an
/// alarm on a metric the function never prints (which would stay silent forever) fails here.
#[test]
fn the_templates_alarms_watch_metrics_the_function_emits() {
    let template = template();
    let function = &template["Resources"]["ProvisionFunction"];
    let namespace = function["Properties"]["Environment"]["Variables"]["METRICS_NAMESPACE"]
        .as_str()
        .expect("the function is told its metrics namespace");
    let emitted = emitted_names();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    assert!(!alarms.is_empty(), "the template has alarms");

    let mut watched = BTreeSet::new();
    for (name, alarm) in alarms {
        let properties = &alarm["Properties"];
        let metric = properties["MetricName"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names one metric"));
        let dimensions = properties["Dimensions"].as_vec().expect("Dimensions");
        match properties["Namespace"].as_str() {
            Some(ns) if ns == namespace => {
                assert!(
                    emitted.contains(metric),
                    "{name}: the function never emits {metric}"
                );
                let [dimension] = dimensions.as_slice() else {
                    panic!("{name}: exactly the one dimension the function emits");
                };
                assert_eq!(dimension["Name"].as_str(), Some(DIMENSION), "{name}");
                assert_eq!(dimension["Value"].as_str(), Some(SERVICE), "{name}");
                assert_eq!(
                    properties["TreatMissingData"].as_str(),
                    Some("notBreaching"),
                    "{name}: no data point means nothing happened"
                );
                watched.insert(metric.to_owned());
            }
            Some("AWS/Lambda") => {
                let [dimension] = dimensions.as_slice() else {
                    panic!("{name}: one dimension, the function");
                };
                assert_eq!(dimension["Name"].as_str(), Some("FunctionName"), "{name}");
                assert_eq!(
                    dimension["Value"].as_str(),
                    Some("ProvisionFunction"),
                    "{name}"
                );
                watched.insert(format!("AWS/Lambda {metric}"));
            }
            other => panic!("{name}: unexpected namespace {other:?}"),
        }
    }
    // What must page someone: users without an organisation, refused sign-ins, malformed
    // events, the security warning, and the function failing or being throttled.
    for metric in [
        Outcome::Deferred.metric_name(),
        Outcome::Refused.metric_name(),
        Outcome::Rejected.metric_name(),
        FOREIGN_ORGANISATION,
        DURATION,
        "AWS/Lambda Errors",
        "AWS/Lambda Throttles",
    ] {
        assert!(watched.contains(metric), "no alarm watches {metric}");
    }
}

//! What the published crates say about themselves matches what they are: the features
//! table of each README (which is also the crate's docs) lists exactly the features in
//! Cargo.toml, with the right defaults and the reqwest features they enable; the READMEs
//! state the MSRV and the spec version; the license files are in each package; the
//! changelog has its sections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn manifest(path: &str) -> toml::Table {
    read(path).parse().unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One row of a features table: the feature, whether it is a default, the row's text.
#[derive(Debug)]
struct Row {
    default: bool,
    text: String,
}

/// The rows of the table under the `Cargo features` heading of `text`, by feature name.
fn features_table(text: &str, what: &str) -> BTreeMap<String, Row> {
    let lines: Vec<&str> = text.lines().collect();
    let heading = lines
        .iter()
        .position(|line| line.starts_with('#') && line.ends_with("Cargo features"))
        .unwrap_or_else(|| panic!("{what}: no `Cargo features` heading"));
    let mut rows = BTreeMap::new();
    let table = lines[heading + 1..]
        .iter()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'));
    for line in table.skip(2) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "{what}: row {line:?} has not 3 cells");
        let name = cells[0]
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .unwrap_or_else(|| panic!("{what}: first cell of {line:?} is not `feature`"));
        let default = match cells[1] {
            "yes" => true,
            "no" => false,
            other => panic!("{what}: default of {name} is {other:?}, not yes/no"),
        };
        let row = Row { default, text: (*line).to_owned() };
        assert!(rows.insert(name.to_owned(), row).is_none(), "{what}: {name} twice");
    }
    rows
}

/// Checks the features table of `krate`'s README against the `[features]` of its manifest.
fn check_features_table(krate: &str) {
    let what = format!("{krate}/README.md");
    let table = features_table(&read(&what), &what);
    let manifest_path = format!("{krate}/Cargo.toml");
    let manifest = manifest(&manifest_path);
    let features = manifest["features"].as_table().unwrap();
    let defaults: Vec<&str> = features
        .get("default")
        .and_then(|d| d.as_array())
        .map(|d| d.iter().map(|f| f.as_str().unwrap()).collect())
        .unwrap_or_default();
    let declared: Vec<&String> = features.keys().filter(|f| *f != "default").collect();
    let listed: Vec<&String> = table.keys().collect();
    let mut declared_sorted = declared.clone();
    declared_sorted.sort();
    assert_eq!(
        listed, declared_sorted,
        "{what}: the table's features differ from {manifest_path}'s"
    );
    for (name, row) in &table {
        assert_eq!(
            row.default,
            defaults.contains(&name.as_str()),
            "{what}: `{name}` default column disagrees with {manifest_path}"
        );
        let enables = features[name.as_str()].as_array().unwrap();
        let reqwest: Vec<&str> =
            enables.iter().filter_map(|f| f.as_str()?.strip_prefix("reqwest/")).collect();
        for feature in &reqwest {
            assert!(
                row.text.contains(&format!("reqwest's `{feature}`")),
                "{what}: `{name}` enables reqwest/{feature}; its row should say so: {}",
                row.text
            );
        }
        if reqwest.is_empty() {
            assert!(
                !row.text.contains("reqwest's `"),
                "{what}: `{name}` enables no reqwest feature, but its row names one"
            );
        }
    }
}

#[test]
fn truemed_ext_features_table_matches_its_manifest() {
    check_features_table("truemed-ext");
}

#[test]
fn truemed_api_features_table_matches_its_manifest() {
    check_features_table("truemed-api");
}

#[test]
fn truemed_fake_features_table_matches_its_manifest() {
    check_features_table("truemed-fake");
}

#[test]
fn the_tls_and_http2_features_are_the_same_in_both_crates() {
    let ext = manifest("truemed-ext/Cargo.toml");
    let api = manifest("truemed-api/Cargo.toml");
    for feature in ["rustls", "rustls-no-provider", "native-tls", "http2"] {
        let api_enables = api["features"][feature].as_array().unwrap();
        let ext_enables: Vec<&str> = ext["features"][feature]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        for f in api_enables {
            assert!(
                ext_enables.contains(&f.as_str().unwrap()),
                "truemed-ext's `{feature}` does not enable {f}"
            );
        }
        let forwarded = format!("truemed-api/{feature}");
        assert!(
            ext_enables.contains(&forwarded.as_str()),
            "truemed-ext's `{feature}` does not enable {forwarded}"
        );
    }
    assert_eq!(ext["features"]["default"], api["features"]["default"]);
}

#[test]
fn readmes_state_the_msrv_and_the_spec_version() {
    let workspace = manifest("Cargo.toml");
    let msrv = workspace["workspace"]["package"]["rust-version"].as_str().unwrap();
    for readme in [
        "truemed-ext/README.md",
        "truemed-api/README.md",
        "truemed-fake/README.md",
        "truemed-cli/README.md",
    ] {
        let text = read(readme);
        assert!(
            text.contains("## Minimum supported Rust version")
                && text.contains(&format!("Rust {msrv} or newer")),
            "{readme} should state the MSRV, Rust {msrv}"
        );
    }
    let spec: serde_yaml::Value = serde_yaml::from_str(&read("openapi/truemed.yaml")).unwrap();
    let version = spec["info"]["version"].as_str().unwrap();
    assert!(
        read("truemed-api/README.md").contains(&format!("version `{version}`")),
        "truemed-api/README.md should name the spec's version, {version}"
    );
}

#[test]
fn each_published_crate_ships_both_licenses() {
    let workspace = manifest("Cargo.toml");
    assert_eq!(workspace["workspace"]["package"]["license"].as_str(), Some("MIT OR Apache-2.0"));
    for krate in ["truemed-api", "truemed-ext", "truemed-fake", "truemed-cli"] {
        for license in ["LICENSE-MIT", "LICENSE-APACHE"] {
            assert_eq!(
                read(&format!("{krate}/{license}")),
                read(license),
                "{krate}/{license} should be the root's {license}"
            );
        }
    }
}

#[test]
fn tools_are_not_published() {
    for path in ["xtask/Cargo.toml", "tests/Cargo.toml"] {
        assert_eq!(
            manifest(path)["package"].get("publish"),
            Some(&toml::Value::Boolean(false)),
            "{path} should say publish = false"
        );
    }
}

#[test]
fn changelog_has_unreleased_and_the_current_version() {
    let changelog = read("CHANGELOG.md");
    let workspace = manifest("Cargo.toml");
    let version = workspace["workspace"]["package"]["version"].as_str().unwrap();
    assert!(changelog.contains("## [Unreleased]"), "CHANGELOG.md");
    assert!(
        changelog.contains(&format!("## [{version}] - ")),
        "CHANGELOG.md should have an entry for {version}"
    );
}

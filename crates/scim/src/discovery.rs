//! Discovery bodies (RFC 7643 §5–7, RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`
//! and `/Schemas`, generated from the schema tables so what we advertise is what we enforce.

use serde_json::{json, Map, Value};

use crate::schema::{extensions_for, schemas_for, AttrType, AttributeDef, ResourceKind, SchemaDef};
use crate::urn;

/// Limits advertised in `/ServiceProviderConfig`; the server must enforce the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    pub filter_max_results: usize,
}

const RESOURCE_KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

fn root(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({ "resourceType": resource_type, "location": location })
}

/// A ListResponse holding every item on one page (discovery lists are small and fixed).
fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

/// The `/ServiceProviderConfig` body (RFC 7643 §5).
pub fn service_provider_config(
    base_url: &str,
    capabilities: &Capabilities,
    documentation_uri: Option<&str>,
) -> Value {
    let mut body = Map::new();
    body.insert("schemas".into(), json!([urn::SERVICE_PROVIDER_CONFIG]));
    if let Some(uri) = documentation_uri {
        body.insert("documentationUri".into(), Value::from(uri));
    }
    let rest = json!({
        "patch": { "supported": true },
        "bulk": {
            "supported": true,
            "maxOperations": capabilities.bulk_max_operations,
            "maxPayloadSize": capabilities.bulk_max_payload_bytes,
        },
        "filter": { "supported": true, "maxResults": capabilities.filter_max_results },
        // Portcullis keeps no passwords: people sign in through the IdP.
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with the SCIM token issued in the admin console, sent as `Authorization: Bearer <token>`.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": meta(
            "ServiceProviderConfig",
            format!("{}/ServiceProviderConfig", root(base_url)),
        ),
    });
    if let Value::Object(rest) = rest {
        body.extend(rest);
    }
    Value::Object(body)
}

/// One `/ResourceTypes/{id}` body (RFC 7643 §6).
pub fn resource_type(base_url: &str, kind: ResourceKind) -> Value {
    let description = match kind {
        ResourceKind::User => "User Account",
        ResourceKind::Group => "Group",
    };
    let extensions: Vec<Value> = extensions_for(kind)
        .iter()
        .map(|ext| json!({ "schema": ext.id, "required": false }))
        .collect();
    let mut body = json!({
        "schemas": [urn::RESOURCE_TYPE],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": description,
        "schema": kind.core_urn(),
    });
    if !extensions.is_empty() {
        body["schemaExtensions"] = Value::Array(extensions);
    }
    body["meta"] = meta(
        "ResourceType",
        format!("{}/ResourceTypes/{}", root(base_url), kind.name()),
    );
    body
}

/// The `/ResourceTypes` ListResponse.
pub fn resource_types(base_url: &str) -> Value {
    list_response(
        RESOURCE_KINDS
            .iter()
            .map(|kind| resource_type(base_url, *kind))
            .collect(),
    )
}

/// `/ResourceTypes/{id}`; ids compare case-insensitively. None means 404.
pub fn resource_type_by_id(base_url: &str, id: &str) -> Option<Value> {
    RESOURCE_KINDS
        .iter()
        .find(|kind| kind.name().eq_ignore_ascii_case(id))
        .map(|kind| resource_type(base_url, *kind))
}

fn attribute_json(def: &AttributeDef) -> Value {
    let mut a = Map::new();
    a.insert("name".into(), Value::from(def.name));
    a.insert("type".into(), Value::from(def.ty.as_str()));
    a.insert("multiValued".into(), Value::from(def.multi_valued));
    a.insert("description".into(), Value::from(def.description));
    a.insert("required".into(), Value::from(def.required));
    // RFC 7643 §7: caseExact only means something for values compared as strings.
    if !matches!(def.ty, AttrType::Complex | AttrType::Boolean) {
        a.insert("caseExact".into(), Value::from(def.case_exact));
    }
    if !def.canonical_values.is_empty() {
        a.insert("canonicalValues".into(), json!(def.canonical_values));
    }
    if def.ty == AttrType::Reference {
        a.insert("referenceTypes".into(), json!(def.reference_types));
    }
    a.insert("mutability".into(), Value::from(def.mutability.as_str()));
    a.insert("returned".into(), Value::from(def.returned.as_str()));
    a.insert("uniqueness".into(), Value::from(def.uniqueness.as_str()));
    if def.ty == AttrType::Complex {
        let subs: Vec<Value> = def.sub_attributes.iter().map(attribute_json).collect();
        a.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(a)
}

/// One `/Schemas/{id}` body (RFC 7643 §7).
pub fn schema(base_url: &str, def: &SchemaDef) -> Value {
    json!({
        "schemas": [urn::SCHEMA],
        "id": def.id,
        "name": def.name,
        "description": def.description,
        "attributes": def.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": meta("Schema", format!("{}/Schemas/{}", root(base_url), def.id)),
    })
}

fn all_schemas() -> impl Iterator<Item = &'static SchemaDef> {
    RESOURCE_KINDS
        .iter()
        .flat_map(|kind| schemas_for(*kind).iter().copied())
}

/// The `/Schemas` ListResponse: User, EnterpriseUser, Group.
pub fn schemas(base_url: &str) -> Value {
    list_response(all_schemas().map(|def| schema(base_url, def)).collect())
}

/// `/Schemas/{id}`; URNs compare case-insensitively. None means 404.
pub fn schema_by_id(base_url: &str, id: &str) -> Option<Value> {
    all_schemas()
        .find(|def| def.id.eq_ignore_ascii_case(id))
        .map(|def| schema(base_url, def))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const BASE: &str = "https://portcullis.example/scim/v2/";

    fn caps() -> Capabilities {
        Capabilities {
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 1_048_576,
            filter_max_results: 200,
        }
    }

    fn find_attr<'a>(attrs: &'a Value, name: &str) -> &'a Value {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    #[test]
    fn service_provider_config_advertises_what_we_support() {
        let spc = service_provider_config(BASE, &caps(), Some("https://docs.example/scim"));
        assert_eq!(spc["schemas"], json!([urn::SERVICE_PROVIDER_CONFIG]));
        assert_eq!(spc["documentationUri"], "https://docs.example/scim");
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(
            spc["bulk"],
            json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576})
        );
        assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["sort"]["supported"], true);
        assert_eq!(spc["etag"]["supported"], true);
        let schemes = spc["authenticationSchemes"].as_array().unwrap();
        assert_eq!(schemes.len(), 1);
        assert_eq!(schemes[0]["type"], "oauthbearertoken");
        assert_eq!(schemes[0]["primary"], true);
        assert!(schemes[0]["name"].is_string() && schemes[0]["description"].is_string());
        assert_eq!(
            spc["meta"],
            json!({"resourceType": "ServiceProviderConfig",
                   "location": "https://portcullis.example/scim/v2/ServiceProviderConfig"})
        );
        assert!(spc.get("id").is_none());
        let without_docs = service_provider_config(BASE, &caps(), None);
        assert!(without_docs.get("documentationUri").is_none());
    }

    #[test]
    fn resource_types_list_and_lookup() {
        let list = resource_types(BASE);
        assert_eq!(list["schemas"], json!([urn::LIST_RESPONSE]));
        assert_eq!(list["totalResults"], 2);
        assert_eq!(list["itemsPerPage"], 2);
        assert_eq!(list["startIndex"], 1);
        let user = &list["Resources"][0];
        assert_eq!(user["id"], "User");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], urn::USER);
        assert_eq!(
            user["schemaExtensions"],
            json!([{"schema": urn::ENTERPRISE_USER, "required": false}])
        );
        assert_eq!(
            user["meta"]["location"],
            "https://portcullis.example/scim/v2/ResourceTypes/User"
        );
        let group = resource_type_by_id(BASE, "group").unwrap();
        assert_eq!(group["endpoint"], "/Groups");
        assert!(group.get("schemaExtensions").is_none());
        assert_eq!(group["meta"]["resourceType"], "ResourceType");
        assert!(resource_type_by_id(BASE, "Widget").is_none());
    }

    #[test]
    fn schemas_are_generated_from_the_tables() {
        let list = schemas(BASE);
        assert_eq!(list["totalResults"], 3);
        let ids: Vec<&str> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [urn::USER, urn::ENTERPRISE_USER, urn::GROUP]);

        let user = schema_by_id(BASE, urn::USER).unwrap();
        assert_eq!(user["schemas"], json!([urn::SCHEMA]));
        assert_eq!(user["name"], "User");
        assert_eq!(
            user["meta"],
            json!({"resourceType": "Schema",
                   "location": format!("https://portcullis.example/scim/v2/Schemas/{}", urn::USER)})
        );
        let attrs = &user["attributes"];
        let user_name = find_attr(attrs, "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(user_name["returned"], "default");
        let password = find_attr(attrs, "password");
        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(password["returned"], "never");
        let groups = find_attr(attrs, "groups");
        assert_eq!(groups["mutability"], "readOnly");
        assert_eq!(groups["multiValued"], true);
        let group_ref = find_attr(&groups["subAttributes"], "$ref");
        assert_eq!(group_ref["referenceTypes"], json!(["User", "Group"]));
        let emails = find_attr(attrs, "emails");
        let email_type = find_attr(&emails["subAttributes"], "type");
        assert_eq!(
            email_type["canonicalValues"],
            json!(["work", "home", "other"])
        );
        let active = find_attr(attrs, "active");
        assert_eq!(active["type"], "boolean");
        assert!(active.get("caseExact").is_none());

        let group = schema_by_id(BASE, &urn::GROUP.to_uppercase()).unwrap();
        let members = find_attr(&group["attributes"], "members");
        assert_eq!(
            find_attr(&members["subAttributes"], "value")["mutability"],
            "immutable"
        );
        assert_eq!(
            find_attr(&members["subAttributes"], "display")["mutability"],
            "readOnly"
        );
        assert_eq!(
            find_attr(&group["attributes"], "displayName")["required"],
            true
        );

        let enterprise = schema_by_id(BASE, urn::ENTERPRISE_USER).unwrap();
        let manager = find_attr(&enterprise["attributes"], "manager");
        assert_eq!(
            find_attr(&manager["subAttributes"], "displayName")["mutability"],
            "readOnly"
        );
        assert!(schema_by_id(BASE, urn::SERVICE_PROVIDER_CONFIG).is_none());
    }

    #[test]
    fn every_attribute_carries_the_rfc_characteristics() {
        fn check(attrs: &Value) {
            for a in attrs.as_array().unwrap() {
                for key in [
                    "name",
                    "type",
                    "multiValued",
                    "description",
                    "required",
                    "mutability",
                    "returned",
                    "uniqueness",
                ] {
                    assert!(a.get(key).is_some(), "{} lacks {key}", a["name"]);
                }
                if a["type"] == "complex" {
                    check(&a["subAttributes"]);
                } else {
                    assert!(a.get("subAttributes").is_none());
                }
            }
        }
        for s in schemas(BASE)["Resources"].as_array().unwrap() {
            check(&s["attributes"]);
        }
    }
}

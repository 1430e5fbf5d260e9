//! `$metadata`: the OData v2 service document (EDMX/CSDL) of each service the emulator implements, generated
//! from the same entity definitions ([`super::model`]) that drive validation and responses — so every property
//! a response can carry is declared, and every declared property is served (one source of truth).

use super::model::{self, KeyKind, SetDef, Ty};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The sets whose path starts with `service` (matched case-insensitively), in definition order: the regular
/// ones and those served under `sync/`, `read/` or `current/` (`cashflow/PaymentTerms`, `sync/Deleted`,
/// `read/financial/ReceivablesList`, `current/Me`).
pub(crate) fn service_sets(service: &str) -> Vec<&'static SetDef> {
    model::sets()
        .iter()
        .filter(|s| {
            s.path
                .split('/')
                .next()
                .is_some_and(|svc| svc.eq_ignore_ascii_case(service))
        })
        .collect()
}

/// The entity name of a set (`crm/Accounts` → `Accounts`).
fn entity_set_name(def: &SetDef) -> &'static str {
    def.path.rsplit('/').next().unwrap_or(def.path)
}

fn child_type(child: &str, fallback: &str) -> String {
    model::set(child).map_or_else(|| fallback.to_owned(), |c| c.type_name.to_owned())
}

/// The `$metadata` document of `service` (e.g. `crm`), or `None` when the emulator serves no set there.
pub(crate) fn document(service: &str) -> Option<String> {
    let sets = service_sets(service);
    if sets.is_empty() {
        return None;
    }
    let ns = "Exact.Web.Api.Models";
    let mut types = String::new();
    let mut associations = String::new();
    let mut container_sets = String::new();
    let mut association_sets = String::new();
    let mut seen_types: Vec<&str> = Vec::new();
    for def in &sets {
        let set_name = entity_set_name(def);
        container_sets.push_str(&format!(
            "        <EntitySet Name=\"{set_name}\" EntityType=\"{ns}.{}\" />\n",
            def.type_name
        ));
        for nav in &def.navs {
            let assoc = format!("{}_{}", def.type_name, nav.name);
            association_sets.push_str(&format!(
                "        <AssociationSet Name=\"{assoc}\" Association=\"{ns}.{assoc}\">\n          <End Role=\"{}\" EntitySet=\"{set_name}\" />\n          <End Role=\"{}\" EntitySet=\"{}\" />\n        </AssociationSet>\n",
                def.type_name,
                nav.name,
                nav.child.rsplit('/').next().unwrap_or(nav.name)
            ));
        }
        if seen_types.contains(&def.type_name) {
            continue;
        }
        seen_types.push(def.type_name);
        types.push_str(&format!(
            "      <EntityType Name=\"{}\">\n        <Key>\n          <PropertyRef Name=\"{}\" />\n        </Key>\n",
            def.type_name, def.key
        ));
        for f in &def.fields {
            let key = f.name == def.key;
            let mut attrs = format!(
                "Name=\"{}\" Type=\"{}\" Nullable=\"{}\"",
                escape(f.name),
                model::edm_of_ty(if key && def.key_kind == KeyKind::Int64 {
                    Ty::Int64
                } else {
                    f.ty
                }),
                !key
            );
            if let Ty::PadLeft(n) | Ty::PadRight(n) = f.ty {
                attrs.push_str(&format!(" MaxLength=\"{n}\""));
            }
            types.push_str(&format!("        <Property {attrs} />\n"));
        }
        for nav in &def.navs {
            let assoc = format!("{}_{}", def.type_name, nav.name);
            types.push_str(&format!(
                "        <NavigationProperty Name=\"{}\" Relationship=\"{ns}.{assoc}\" FromRole=\"{}\" ToRole=\"{}\" />\n",
                nav.name, def.type_name, nav.name
            ));
            associations.push_str(&format!(
                "      <Association Name=\"{assoc}\">\n        <End Type=\"{ns}.{}\" Role=\"{}\" Multiplicity=\"0..1\" />\n        <End Type=\"{ns}.{}\" Role=\"{}\" Multiplicity=\"*\" />\n      </Association>\n",
                def.type_name,
                def.type_name,
                child_type(nav.child, nav.name),
                nav.name
            ));
        }
        types.push_str("      </EntityType>\n");
    }
    // Navigation targets the service does not serve as a set of its own still need a type.
    for def in &sets {
        for nav in &def.navs {
            let t = child_type(nav.child, nav.name);
            if model::set(nav.child).is_none() && !seen_types.iter().any(|s| *s == t) {
                types.push_str(&format!(
                    "      <EntityType Name=\"{t}\">\n        <Key>\n          <PropertyRef Name=\"ID\" />\n        </Key>\n        <Property Name=\"ID\" Type=\"Edm.Guid\" Nullable=\"false\" />\n      </EntityType>\n"
                ));
                seen_types.push(nav.name);
            }
        }
    }
    let container = sets
        .first()
        .and_then(|d| d.path.split('/').next())
        .unwrap_or(service);
    Some(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\n\
<edmx:Edmx Version=\"1.0\" xmlns:edmx=\"http://schemas.microsoft.com/ado/2007/06/edmx\">\n\
  <edmx:DataServices xmlns:m=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\" m:DataServiceVersion=\"2.0\">\n\
    <Schema Namespace=\"{ns}\" xmlns=\"http://schemas.microsoft.com/ado/2008/09/edm\">\n\
{types}{associations}      <EntityContainer Name=\"{container}\" m:IsDefaultEntityContainer=\"true\">\n\
{container_sets}{association_sets}      </EntityContainer>\n\
    </Schema>\n\
  </edmx:DataServices>\n\
</edmx:Edmx>\n"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_crm_document_declares_accounts_with_their_key_padded_code_and_bank_accounts_navigation()
    {
        let doc = document("CRM").unwrap();
        assert!(doc.contains("<EntityType Name=\"Account\">"));
        assert!(doc.contains("<PropertyRef Name=\"ID\" />"));
        assert!(doc.contains(
            "<Property Name=\"Code\" Type=\"Edm.String\" Nullable=\"true\" MaxLength=\"18\" />"
        ));
        assert!(doc.contains("<NavigationProperty Name=\"BankAccounts\""));
        assert!(doc.contains(
            "<EntitySet Name=\"Accounts\" EntityType=\"Exact.Web.Api.Models.Account\" />"
        ));
        assert!(document("nosuchservice").is_none());
    }
}

//! Validation messages in Dutch, as Exact writes them for Dutch-speaking users (reference §4.1–4.2:
//! `Verplicht: Factuur voor`, `Ongeldige referentie: Leveren aan`, `Ongeldig: Dagboek`, `Gegeven bestaat
//! reeds.`). Which request header selects the language is not documented, so the emulator selects it by
//! configuration (`ExactConfig::validation_language`).

/// The language of business validation messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ValidationLanguage {
    /// `Mandatory: Journal` (the default).
    #[default]
    English,
    /// `Verplicht: Dagboek`.
    Dutch,
}

/// Dutch captions of the properties the emulator validates (Exact's UI labels).
const CAPTIONS: &[(&str, &str)] = &[
    ("Account", "Relatie"),
    ("AmountFC", "Bedrag"),
    ("CallbackURL", "Callback-URL"),
    ("Code", "Code"),
    ("Currency", "Valuta"),
    ("Customer", "Klant"),
    ("DeliverTo", "Leveren aan"),
    ("Description", "Omschrijving"),
    ("GLAccount", "Grootboekrekening"),
    ("G/L account type", "Grootboekrekeningtype"),
    ("GLRevenue", "Grootboekrekening omzet"),
    ("InvoiceID", "Factuur"),
    ("InvoiceTo", "Factuur voor"),
    ("Item", "Artikel"),
    ("Journal", "Dagboek"),
    ("JournalCode", "Dagboek"),
    ("Name", "Naam"),
    ("OrderedBy", "Besteld door"),
    ("SalesEntryLines", "Regels"),
    ("SalesInvoiceLines", "Regels"),
    ("PurchaseEntryLines", "Regels"),
    ("GeneralJournalEntryLines", "Regels"),
    ("SalesVatCode", "Btw-code verkoop"),
    ("Supplier", "Leverancier"),
    ("Topic", "Onderwerp"),
    ("Type", "Type"),
    ("VAT code", "Btw-code"),
];

fn caption(field: &str) -> String {
    // `InvoiceTo (Type)`: translate the property, keep the qualifier.
    let (name, rest) = match field.find(" (") {
        Some(i) => field.split_at(i),
        None => (field, ""),
    };
    let name = CAPTIONS
        .iter()
        .find(|(en, _)| *en == name)
        .map_or(name, |(_, nl)| nl);
    format!("{name}{rest}")
}

/// One message in `lang`.
pub(crate) fn translate(message: &str, lang: ValidationLanguage) -> String {
    if lang == ValidationLanguage::English {
        return message.to_owned();
    }
    if message == "Data already exists." {
        return "Gegeven bestaat reeds.".into();
    }
    if message == "Processed invoices can't be changed anymore." {
        return "Verwerkte facturen kunnen niet meer gewijzigd worden.".into();
    }
    for (en, nl) in [
        ("Mandatory: ", "Verplicht: "),
        ("Invalid reference: ", "Ongeldige referentie: "),
        ("Invalid: ", "Ongeldig: "),
    ] {
        if let Some(field) = message.strip_prefix(en) {
            return format!("{nl}{}", caption(field));
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_exacts_dutch_ones() {
        let nl = ValidationLanguage::Dutch;
        assert_eq!(
            translate("Mandatory: InvoiceTo", nl),
            "Verplicht: Factuur voor"
        );
        assert_eq!(
            translate("Invalid reference: DeliverTo", nl),
            "Ongeldige referentie: Leveren aan"
        );
        assert_eq!(translate("Invalid: Journal", nl), "Ongeldig: Dagboek");
        assert_eq!(
            translate("Invalid: InvoiceTo (Type)", nl),
            "Ongeldig: Factuur voor (Type)"
        );
        assert_eq!(
            translate("Data already exists.", nl),
            "Gegeven bestaat reeds."
        );
        assert_eq!(
            translate("Mandatory: Journal", ValidationLanguage::English),
            "Mandatory: Journal"
        );
    }
}

//! The main job. At this stage: maps the bundled sample of Vantagepoint records with the mapping crate and
//! prints the Exact Online payloads it would send (and the records it refuses, with why).

fn main() {
    print!("{}", ledgerlink_mapping::demo::render());
}

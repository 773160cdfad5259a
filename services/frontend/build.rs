// `sqlx::migrate!` embeds the migrations at compile time; without this, adding a migration
// file does not rebuild the crate and the new migration silently never runs.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

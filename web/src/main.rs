//! Browser entry point (Trunk builds this binary for wasm32).

fn main() {
    #[cfg(target_arch = "wasm32")]
    dream_web::start();
}

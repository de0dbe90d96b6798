//! Link arguments for a Node addon. The N-API symbols (napi_*) are not linked against anything:
//! the `node` executable that loads the addon defines them, so the linker must accept them as
//! unresolved and the dynamic loader resolves them at `require` time.
//!
//! The target is read from Cargo's CARGO_CFG_* variables, not from `cfg!`, because a build script
//! is compiled for the host, which is not the target when cross-compiling.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();

    if os == "linux" && target_env == "gnu" {
        // Rust's std registers thread-local destructors with pthread_key_create. Node unloads
        // (dlclose) an addon when the worker thread or environment that loaded it goes away, but
        // glibc still runs those destructors at a later thread exit, jumping into unmapped code:
        // a segfault (glibc bugs 21031 and 21032, rust-lang/rust#134820). -z nodelete makes
        // dlclose keep the library mapped. napi-rs' build crate passes the same flag for this.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    if os == "macos" {
        // ld64 rejects undefined symbols in a dylib unless told to leave them to the loader.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-undefined,dynamic_lookup");
    }
    // Windows: nothing here. A .dll cannot leave symbols unresolved; sys.rs imports the napi_*
    // functions from node.exe with #[link(kind = "raw-dylib")], so no node.lib is needed.
}

use std::path::Path;

fn main() {
    // `sqlx::migrate!` embeds the migrations at compile time: rebuild when
    // one is added or changed.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=src/hot_code.order");
    link_for_memory();
}

/// Two ways the release link of `candor` keeps less of the binary in memory
/// (README, "Memory"; issue 19). Only for a release build made on and for
/// x86_64 Linux with glibc, whose linker is LLD (Rust's default there since
/// 1.90; an older Rust links with the system's linker, which knows neither
/// option); any
/// other build links as before, and so does one with `CANDOR_PLAIN_LINK=1`
/// (for another linker).
///
/// - The functions a running Candor uses, named in `src/hot_code.order`
///   (written by `benches/hot_code.sh`), side by side: in the compiler's
///   order they are spread over the whole binary and the kernel maps the
///   64 KB around each page run. A name not in the binary is skipped.
/// - Relative relocations packed (RELR): the relocation table the loader
///   reads once at start shrinks from about 0.8 MB to a few kB. The binary
///   then needs glibc 2.36 or later, so only where the build's own glibc is.
fn link_for_memory() {
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    println!("cargo:rerun-if-env-changed=CANDOR_PLAIN_LINK");
    let target = env("TARGET");
    if target != "x86_64-unknown-linux-gnu"
        || env("HOST") != target
        || env("PROFILE") != "release"
        || env("CANDOR_PLAIN_LINK") == "1"
        || !rustc_at_least(&env("RUSTC"), 1, 90)
    {
        return;
    }
    let order = Path::new(&env("CARGO_MANIFEST_DIR")).join("src/hot_code.order");
    if order.exists() {
        println!(
            "cargo:rustc-link-arg-bin=candor=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=candor=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bin=candor=-Wl,-z,pack-relative-relocs");
    }
}

/// `rustc --version`: "rustc 1.95.0 (59807616e 2026-04-14)".
fn rustc_at_least(rustc: &str, major: u32, minor: u32) -> bool {
    let rustc = if rustc.is_empty() { "rustc" } else { rustc };
    let Ok(out) = std::process::Command::new(rustc).arg("--version").output() else {
        return false;
    };
    version_at_least(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or(""),
        major,
        minor,
    )
}

/// "2.36" or "1.95.0-nightly" against (major, minor).
fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut numbers = version
        .split(['.', '-'])
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let found = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    found >= (major, minor)
}

/// The glibc of the machine building (`getconf GNU_LIBC_VERSION`: "glibc 2.36").
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    version_at_least(text.trim().trim_start_matches("glibc "), major, minor)
}

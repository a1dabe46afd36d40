# Shared by .ci/serve and .ci/test: install what is missing, and only that.
# Every step says what it does; a step whose tool is already there says so and moves on.
# shellcheck shell=bash

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.117 # must equal the wasm-bindgen pin in Cargo.toml
BINARYEN_VERSION=132         # Debian's wasm-opt (108) breaks hydration; npm's 132 works
JUNCTION_CACHE="${JUNCTION_CACHE:-$HOME/.cache/junction}"

# Build artifacts are kept outside the checkout so that a fresh clone (CI's) reuses
# the dependencies already compiled on this machine instead of building them again.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$JUNCTION_CACHE/target}"
# Incremental caches are kept per checkout path: with a fresh clone each CI run they
# only pile up in the shared directory, and speed nothing up.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export PATH="$HOME/.cargo/bin:$JUNCTION_CACHE/binaryen/node_modules/.bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        apt-get update -qq || fail "apt-get update failed"
        apt_updated=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || fail "apt-get install $* failed"
}

ensure_rust() {
    step "Rust toolchain and the wasm32 target"
    command -v cargo >/dev/null || fail "cargo is not installed: install Rust with rustup first (https://rustup.rs)"
    if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        ok "wasm32-unknown-unknown is installed"
    else
        rustup target add wasm32-unknown-unknown
    fi
}

ensure_cargo_leptos() {
    step "cargo-leptos $CARGO_LEPTOS_VERSION"
    if cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
        ok "cargo-leptos $CARGO_LEPTOS_VERSION is installed"
    else
        echo "    building cargo-leptos (once per machine; about 25 minutes)"
        # no_downloads: this machine cannot fetch sass/tailwind/wasm-opt binaries, and
        # Junction needs none of them (plain CSS; wasm-opt comes from npm below).
        cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked --features no_downloads
    fi
}

ensure_wasm_bindgen() {
    step "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
        ok "wasm-bindgen $WASM_BINDGEN_VERSION is installed"
    else
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
    fi
}

ensure_node() {
    if ! command -v npm >/dev/null; then
        step "Node.js and npm"
        apt_install nodejs npm
    fi
}

ensure_wasm_opt() {
    step "wasm-opt (binaryen $BINARYEN_VERSION, from npm)"
    if wasm-opt --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
        ok "wasm-opt $BINARYEN_VERSION is installed"
    else
        ensure_node
        mkdir -p "$JUNCTION_CACHE/binaryen"
        npm install --silent --no-audit --no-fund --prefix "$JUNCTION_CACHE/binaryen" "binaryen@$BINARYEN_VERSION"
        wasm-opt --version | grep -q "version $BINARYEN_VERSION" || fail "wasm-opt $BINARYEN_VERSION did not install"
        ok "installed $(wasm-opt --version)"
    fi
}

ensure_chromium() {
    step "Chromium for the browser tests"
    if [ -x /usr/bin/chromium ]; then
        ok "$(/usr/bin/chromium --version 2>/dev/null || echo chromium) is installed"
    else
        apt_install chromium
    fi
}

ensure_end2end_packages() {
    step "npm packages of end2end/ (Playwright; it uses the system Chromium)"
    ensure_node
    # npm writes this file on every install: newer than the lock file means current.
    local stamp=end2end/node_modules/.package-lock.json
    if [ -f "$stamp" ] && [ "$stamp" -nt end2end/package-lock.json ]; then
        ok "end2end/node_modules is up to date"
    else
        # Playwright must never download a browser here: the system Chromium is used.
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund --prefix end2end
    fi
}

OPENAPI_VALIDATOR_VERSION=0.7.1

ensure_openapi_validator() {
    step "openapi-spec-validator $OPENAPI_VALIDATOR_VERSION (PyPI), to check the API document"
    local venv="$JUNCTION_CACHE/venv"
    if "$venv/bin/openapi-spec-validator" --help >/dev/null 2>&1 &&
        "$venv/bin/pip" show openapi-spec-validator 2>/dev/null | grep -q "^Version: $OPENAPI_VALIDATOR_VERSION$"; then
        ok "openapi-spec-validator is installed"
    else
        command -v python3 >/dev/null || apt_install python3 python3-venv
        python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
        "$venv/bin/pip" install --quiet "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
        ok "installed openapi-spec-validator $OPENAPI_VALIDATOR_VERSION"
    fi
}

build_tools() {
    ensure_rust
    ensure_cargo_leptos
    ensure_wasm_bindgen
    ensure_wasm_opt
}

# Builds the server and the browser bundle in release mode. --split puts the lazily
# loaded pages (the editor) in files of their own, fetched when first shown.
build_release() {
    step "Building Junction (release: server and browser bundle)"
    cargo leptos build --release --split
}

junction_binary() {
    echo "$CARGO_TARGET_DIR/release/junction"
}

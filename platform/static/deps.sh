#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# deps.sh ARCH: build the static limpet's third-party libraries for ARCH
# (x86_64, arm64) against musl, from the Debian source packages pinned in
# platform/static/versions, into a cached prefix.  Prints shell assignments
# for static.mk on stdout (PREFIX, CC, AR, CFLAGS); progress goes to
# stderr and each library's build log to the cache.
#
# deps.sh --sources: only resolve and download every pinned source into
# LIMPET_DL_DIR, checking it; `make static-sources` runs it on an empty
# directory, so a pin that a new machine cannot fetch fails at once.
#
#   LIMPET_DL_DIR     source packages (default ~/.cache/limpet/dl); fill it
#                     beforehand to build offline
#   LIMPET_CACHE_DIR  built prefixes (default ~/.cache/limpet)
#   LIMPET_OFFLINE=1  do not ask apt; use what LIMPET_DL_DIR holds
#   LIMPET_JOBS       make -j (default: the number of CPUs)
set -euo pipefail
# shellcheck disable=SC2317 # build_NAME runs as "build_$n"
# All of it in braces: bash parses it whole before running it, so editing
# this file during a build (a git checkout) cannot derail the build.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
me="limpet static"

die() { echo "$me: $*" >&2; exit 1; }
note() { echo "  $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 x86_64|arm64|--sources"
arch=$1
sources_only=false

case $arch in
x86_64)	gnu=x86_64-linux-gnu musl=x86_64-linux-musl debarch=amd64 ;;
arm64)	gnu=aarch64-linux-gnu musl=aarch64-linux-musl debarch=arm64 ;;
--sources) sources_only=true ;;
*)	die "ARCH=$arch: not supported (x86_64 or arm64)" ;;
esac

# Debian names its musl wrapper musl-gcc for the native architecture and
# TRIPLET-gcc for the others.
if $sources_only; then
	:
elif [ "$(dpkg --print-architecture 2>/dev/null)" = "$debarch" ]; then
	cc="musl-gcc"
else
	cc="$musl-gcc"
fi
if ! $sources_only; then
	command -v "$cc" >/dev/null || die "$cc: not found (make static-deps installs it)"
	command -v "$gnu-ar" >/dev/null || die "$gnu-ar: not found (make static-deps installs it)"
	command -v dpkg-source >/dev/null || die "dpkg-source: not found (make static-deps installs dpkg-dev)"
	command -v autoreconf >/dev/null || die "autoreconf: not found (make static-deps installs it)"
	asm_dir=/usr/include/$gnu/asm
	[ -d "$asm_dir" ] || die "$asm_dir: missing: kernel headers for $arch (linux-libc-dev:$debarch)"
fi

dl=${LIMPET_DL_DIR:-${HOME:?}/.cache/limpet/dl}
cache_root=${LIMPET_CACHE_DIR:-${HOME:?}/.cache/limpet}/static/$arch
jobs=${LIMPET_JOBS:-$(nproc)}
mkdir -p "$dl"

# ---------------------------------------------------------------- pins

names=()
declare -A src suite upver sha dsc
while read -r n s su v h rest; do
	case $n in ''|'#'*) continue ;; esac
	if [ -z "$h" ] || [ -n "$rest" ]; then
		die "platform/static/versions: bad line for $n"
	fi
	names+=("$n") src[$n]=$s suite[$n]=$su upver[$n]=$v sha[$n]=$h
done <"$here/versions"

# Every revision of NAME's pinned upstream version that apt knows of, newest
# first, as apt spells them (epoch included): a security upload can list a
# revision whose files the mirror does not serve (yet, or any more), while an
# older revision of the same upstream version is still there.
revisions() {
	local n=$1 v a=() i j t
	while read -r v; do
		a+=("$v")
	done < <(apt-cache showsrc "${src[$n]}" 2>/dev/null |
		awk -v u="${upver[$n]}" '$1 == "Version:" {
			v = $2; sub(/^[0-9]+:/, "", v)
			if (index(v, u "-") == 1 && index(substr(v, length(u) + 2), "-") == 0) print $2
		}' | sort -u)
	# dpkg's order, not sort -V's (which gets "~" wrong); a handful of items
	for ((i = 0; i < ${#a[@]}; i++)); do
		for ((j = i + 1; j < ${#a[@]}; j++)); do
			if dpkg --compare-versions "${a[j]}" gt "${a[i]}"; then
				t=${a[i]} a[i]=${a[j]} a[j]=$t
			fi
		done
	done
	[ ${#a[@]} -eq 0 ] || printf '%s\n' "${a[@]}"
}

# The revisions of NAME's pinned version already in $dl (offline), newest first.
revisions_in_dl() {
	local n=$1 d
	(cd "$dl" && { ls -1 "${src[$n]}_${upver[$n]}"-*.dsc 2>/dev/null || true; }) |
		while read -r d; do
			d=${d#*_}
			echo "${d%.dsc}"
		done | sort -rV
}

# Files a .dsc lists, with their sha256.
dsc_files() {
	awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $1, $3 }' "$dl/$1"
}

have_files() {
	local d=$1 h f
	[ -f "$dl/$d" ] || return 1
	while read -r h f; do
		[ -f "$dl/$f" ] || return 1
	done < <(dsc_files "$d")
}

# fetch NAME VERSION: the source package NAME=VERSION complete in $dl, or a
# reason on stdout.  Each attempt downloads into a directory of its own, so
# a revision that is half served leaves nothing behind that looks complete.
fetch() {
	local n=$1 v=$2 d t f why
	d=${src[$n]}_${v#*:}.dsc
	have_files "$d" && return 0
	[ "${LIMPET_OFFLINE:-}" != 1 ] || { echo "not in $dl"; return 1; }
	t=$(mktemp -d "$dl/.fetch.XXXXXX")
	chmod 755 "$t" # apt's _apt user downloads into it
	if ! why=$(cd "$t" && apt-get source --download-only -qq "${src[$n]}=$v" 2>&1 >/dev/null); then
		# "E: Failed to fetch http://.../zlib_1.3-1.dsc  404  Not Found [IP: ...]"
		why=$(sed -n 's|^E: Failed to fetch .*/\([^/ ]*\) *\([0-9][0-9][0-9]\) *\([^[]*[^[ ]\).*|\1: HTTP \2 \3|p' \
			<<<"$why" | head -n 1 | grep . || grep -m1 '^E:' <<<"$why" || echo "apt-get source failed")
		rm -rf "$t"
		echo "${why#E: }"
		return 1
	fi
	for f in "$t"/*; do
		[ -e "$f" ] && mv -f "$f" "$dl/"
	done
	rm -rf "$t"
	have_files "$d" || { echo "$d lists files apt did not download"; return 1; }
}

# orig_sha NAME DSC: the sha256 of the .orig tarball DSC lists (empty if none).
orig_sha() {
	local h f
	while read -r h f; do
		case $f in *.orig.tar.*.asc) continue ;; *.orig.tar.*) ;; *) continue ;; esac
		sha256sum "$dl/$f" | cut -d' ' -f1
		return 0
	done < <(dsc_files "$2")
}

# Pick, for each library, the newest revision of its pinned upstream version
# that can be had complete and whose .orig tarball has the pinned sha256:
# from apt (every revision it lists is tried), else from $dl.
resolve() {
	local n v d why tried got revs
	for n in "${names[@]}"; do
		if [[ ${suite[$n]} == *-orig ]]; then
			orig_only "$n" || die "$n: no ${src[$n]}_${upver[$n]}.orig.tar.* with the pinned sha256 in $dl"
			continue
		fi
		revs=""
		[ "${LIMPET_OFFLINE:-}" = 1 ] || revs=$(revisions "$n")
		if [ -z "$revs" ]; then
			[ "${LIMPET_OFFLINE:-}" = 1 ] ||
				note "$n: apt lists no ${src[$n]} ${upver[$n]} (make static-deps adds deb-src); using $dl"
			revs=$(revisions_in_dl "$n")
		fi
		tried=""
		dsc[$n]=""
		while read -r v; do
			[ -n "$v" ] || continue
			d=${src[$n]}_${v#*:}.dsc
			if ! why=$(fetch "$n" "$v"); then
				tried+=" ${v#*:} ($why);"
				continue
			fi
			got=$(orig_sha "$n" "$d")
			if [ "$got" != "${sha[$n]}" ]; then
				tried+=" ${v#*:} (.orig sha256 ${got:-missing}, pinned ${sha[$n]});"
				continue
			fi
			dsc[$n]=$d
			break
		done <<<"$revs"
		if [ -z "${dsc[$n]}" ]; then
			[ -n "$tried" ] || tried=" none: apt lists no revision and $dl has none;"
			die "$n: no source for ${upver[$n]} could be had; tried${tried%;}"
		fi
		note "SOURCE  $n ${dsc[$n]%.dsc}${tried:+ (passed over:${tried%;})}"
	done
}

# A library whose suite is "SUITE-orig": the archive serves its pinned .orig
# tarball but not the rest of the source package (a partial mirror), so it
# is built from upstream's code alone, without Debian's patches.  Any
# revision's download brings the .orig along; dsc[NAME] becomes "orig:FILE".
orig_only() {
	local n=$1 f v t
	if [ "${LIMPET_OFFLINE:-}" != 1 ] && ! ls "$dl/${src[$n]}_${upver[$n]}".orig.tar.* >/dev/null 2>&1; then
		while read -r v; do
			[ -n "$v" ] || continue
			t=$(mktemp -d "$dl/.fetch.XXXXXX")
			chmod 755 "$t"
			(cd "$t" && apt-get source --download-only -qq "${src[$n]}=$v" >/dev/null 2>&1) || true
			for f in "$t/${src[$n]}_${upver[$n]}".orig.tar.*; do
				[ -e "$f" ] && mv -f "$f" "$dl/"
			done
			rm -rf "$t"
			ls "$dl/${src[$n]}_${upver[$n]}".orig.tar.* >/dev/null 2>&1 && break
		done < <(revisions "$n")
	fi
	for f in "$dl/${src[$n]}_${upver[$n]}".orig.tar.*; do
		case $f in *.asc) continue ;; esac
		[ -f "$f" ] || continue
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "${sha[$n]}" ] || continue
		dsc[$n]=orig:${f##*/}
		note "SOURCE  $n ${f##*/} (upstream's tarball alone)"
		return 0
	done
	return 1
}

# ---------------------------------------------------------------- build

cflags="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"

# The loops a pull or an import spends its CPU time in are built for speed,
# the rest for size.  -O2 against -Os, measured with musl and gcc 12, and
# what it adds to the x86_64 binary: zlib's inflate 12% faster (+4 KB);
# zstd's decompression 7% faster on x86_64, which has its Huffman decoder
# in asm, and 40% on arm64 (emulated) (+30 KB); mbedtls' ChaCha20-Poly1305,
# the cipher it asks TLS servers for first, 2.2x (+2 KB).  -O3 is no
# faster than -O2 for any of them, and for zstd twice the size.

# Debian's musl wrappers see only musl's headers; the kernel's uapi headers
# (linux/, asm/) are the host's, with asm/ for the target.
kernel_headers() {
	mkdir -p "$1"
	ln -sfn /usr/include/linux "$1/linux"
	ln -sfn /usr/include/asm-generic "$1/asm-generic"
	ln -sfn "$asm_dir" "$1/asm"
}

# Debian regenerates the autotools files (dh_autoreconf) after its patches,
# which touch configure.ac and Makefile.am; so do we.
autotools() {
	local dir=$1
	shift
	(cd "$dir" && autoreconf -fi && ./configure --host="$musl" --prefix="$prefix" \
		--disable-shared --enable-static --disable-dependency-tracking "$@")
}

build_zlib() {
	(cd "$1" && CFLAGS="${CFLAGS/-Os/-O2}" ./configure --static --prefix="$prefix")
	make -C "$1" -j"$jobs" libz.a
	make -C "$1" install
}

# Decompression only: libarchive reads zstd layers, nothing writes zstd.
build_zstd() {
	local opts=(ZSTD_LIB_COMPRESSION=0 ZSTD_LIB_DICTBUILDER=0 ZSTD_LIB_DEPRECATED=0
		    ZSTD_LEGACY_SUPPORT=0 PREFIX="$prefix")
	# From the environment, which its Makefile adds to; -O2, not its own -O3
	# (twice the size for the same speed).
	CFLAGS="${CFLAGS/-Os/-O2}" make -C "$1/lib" -j"$jobs" "${opts[@]}" libzstd.a
	make -C "$1/lib" "${opts[@]}" install-static install-includes install-pc
}

build_mbedtls() {
	local lib
	install -m 0644 "$here/mbedtls_config.h" "$1/include/mbedtls/mbedtls_config.h"
	# GEN_FILES empty: use the generated sources the release ships.  The
	# TLS bulk cipher and SHA-256 (the Pi 4's hashing: no crypto
	# extensions) first, for speed; "static" then finds them built and
	# compiles the rest for size (all of it at -O2: 49 KB more code).
	CFLAGS="${CFLAGS/-Os/-O2}" make -C "$1/library" -j"$jobs" GEN_FILES= \
		chacha20.o poly1305.o chachapoly.o sha256.o
	make -C "$1/library" -j"$jobs" GEN_FILES= static
	mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
	cp -R "$1/include/mbedtls" "$1/include/psa" "$prefix/include/"
	cp "$1"/library/lib{mbedcrypto,mbedx509,mbedtls}.a "$prefix/lib/"
	for lib in mbedcrypto:"" mbedx509:mbedcrypto mbedtls:mbedx509; do
		cat >"$prefix/lib/pkgconfig/${lib%%:*}.pc" <<-EOF
			prefix=$prefix
			Name: ${lib%%:*}
			Description: mbedtls ${upver[mbedtls]}, limpet's configuration
			Version: ${upver[mbedtls]}
			Requires.private: ${lib#*:}
			Cflags: -I\${prefix}/include
			Libs: -L\${prefix}/lib -l${lib%%:*}
		EOF
	done
}

# HTTP and HTTPS through mbedtls, nothing else; zlib is in the binary anyway
# for libarchive, so documents may come compressed.  The CA bundle path is
# Debian's and Raspberry Pi OS's (configure cannot look when cross-compiling).
# One unity source compiles in a tenth of the time of 170 through libtool.
build_curl() {
	local off=(ftp file ldap ldaps rtsp dict telnet tftp pop3 imap smb smtp gopher mqtt ipfs
		   manual docs ntlm unix-sockets doh mime form-api netrc alt-svc hsts websockets
		   cookies digest-auth kerberos-auth negotiate-auth aws tls-srp sha512-256 bindlocal
		   libcurl-option get-easy-options headers-api progress-meter httpsrr ech sspi)
	local without=(brotli zstd libpsl libidn2 librtmp libssh2 libssh wolfssh nghttp2 ngtcp2
		       nghttp3 quiche msh3 libgsasl libuv ca-path)
	autotools "$1" --with-mbedtls="$prefix" --with-zlib="$prefix" \
		--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --enable-threaded-resolver \
		--enable-unity "${off[@]/#/--disable-}" "${without[@]/#/--without-}"
	# libcurl.la alone: "all" also builds the unit-test copy, libcurlu.
	make -C "$1/lib" -j"$jobs" libcurl.la
	make -C "$1/lib" install-libLTLIBRARIES
	make -C "$1/include" install
	make -C "$1" install-pkgconfigDATA
}

# tar, gzip and zstd for image layers; xattrs stay (layers carry them).
build_libarchive() {
	autotools "$1" --disable-bsdtar --disable-bsdcpio --disable-bsdcat --disable-bsdunzip \
		--disable-acl --enable-xattr --with-zlib --with-zstd --without-bz2lib \
		--without-lzma --without-lz4 --without-libb2 --without-openssl --without-mbedtls \
		--without-nettle --without-xml2 --without-expat --without-iconv --disable-rpath
	make -C "$1" -j"$jobs" libarchive.la
	make -C "$1" install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
}

build_libconfig() {
	autotools "$1" --disable-cxx --disable-examples
	make -C "$1/lib" -j"$jobs" libconfig.la
	make -C "$1/lib" install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
}

build_jansson() {
	autotools "$1"
	make -C "$1/src" -j"$jobs"
	make -C "$1/src" install
	make -C "$1" install-pkgconfigDATA
}

build_libseccomp() {
	autotools "$1" --disable-python
	make -C "$1/src" -j"$jobs" libseccomp.la
	make -C "$1/src" install-libLTLIBRARIES
	make -C "$1/include" install
	make -C "$1" install-pkgconfDATA
}

# libfdt alone (the arm64 VMM's device trees), without dtc and its tools.
build_libfdt() {
	make -C "$1" -j"$jobs" NO_PYTHON=1 NO_YAML=1 NO_VALGRIND=1 CC="$CC" AR="$AR" \
		EXTRA_CFLAGS="$CFLAGS" libfdt/libfdt.a
	install -m 0644 "$1/libfdt/libfdt.a" "$prefix/lib/"
	install -m 0644 "$1"/libfdt/{fdt.h,libfdt.h,libfdt_env.h} "$prefix/include/"
	printf 'Name: libfdt\nDescription: flat device trees\nVersion: %s\nCflags: -I%s\nLibs: -L%s -lfdt\n' \
		"${upver[libfdt]}" "$prefix/include" "$prefix/lib" >"$prefix/lib/pkgconfig/libfdt.pc"
}

# One library, in the background; $logs/NAME.ok says it worked.  Our own
# patches (patches/NAME/*.patch) go on top of Debian's: fixes Debian does
# not carry yet, each saying when it can go.
build_one() {
	local n=$1 t0=$SECONDS
	note "BUILD   $n ${dsc[$n]%.dsc} ($arch)"
	(
		set -e
		if [[ ${dsc[$n]} == orig:* ]]; then
			mkdir -p "$work/$n"
			tar -xf "$dl/${dsc[$n]#orig:}" -C "$work/$n" --strip-components=1
		else
			dpkg-source -x "$dl/${dsc[$n]}" "$work/$n"
		fi
		for p in "$here/patches/$n"/*.patch; do
			[ ! -e "$p" ] || patch -d "$work/$n" -p1 --batch <"$p"
		done
		"build_$n" "$work/$n"
	) >"$logs/$n.log" 2>&1
	echo "$n $((SECONDS - t0))s" >>"$logs/times"
	touch "$logs/$n.ok"
}

# NAME...: build them side by side, $jobs at a time, and wait for all.
build_some() {
	local n running
	for n in "$@"; do
		while running=$(jobs -rp | wc -l) && [ "$running" -ge "$jobs" ]; do
			wait -n || true
		done
		build_one "$n" &
	done
	wait || true
	for n in "$@"; do
		check_built "$n"
	done
}

# Two stages: what the others link against, then the rest.  Most of the time
# goes to configure scripts, which use one CPU: hence side by side.
build_all() {
	local base=(zlib zstd mbedtls) rest=() n
	for n in "${names[@]}"; do
		[[ " ${base[*]} " == *" $n "* ]] || rest+=("$n")
	done
	rm -rf "$prefix" "$work" "$logs"
	mkdir -p "$prefix/lib/pkgconfig" "$work" "$logs"
	kernel_headers "$prefix/kernel-include"
	export CC=$cc AR=$gnu-ar RANLIB=$gnu-ranlib NM=$gnu-nm STRIP=$gnu-strip
	export CFLAGS="$cflags -isystem $prefix/kernel-include"
	export CPPFLAGS="-I$prefix/include" LDFLAGS="-static -L$prefix/lib"
	export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig PKG_CONFIG_PATH=
	build_some "${base[@]}"
	build_some "${rest[@]}"
	# The limpet link asks pkg-config; a prefix it cannot answer for is broken.
	pkg-config --static --libs libconfig jansson libarchive libcurl libseccomp >/dev/null ||
		die "pkg-config cannot resolve the libraries in $prefix"
	rm -rf "$work"
}

check_built() {
	[ -f "$logs/$1.ok" ] && return 0
	tail -n 20 "$logs/$1.log" >&2
	die "$1: build failed for $arch; whole log: $logs/$1.log"
}

resolve
if $sources_only; then
	note "SOURCES every pin resolved and checked in $dl"
	exit 0
fi
mkdir -p "$cache_root"

# Everything that decides the prefix's content names it, so a changed pin,
# Debian revision, script, config, patch or compiler builds a new one.
key=$({
	cat "$here/versions" "$here/deps.sh" "$here/mbedtls_config.h"
	find "$here/patches" -name '*.patch' -type f | sort | xargs -r cat
	echo "$arch $cc"
	"$cc" --version | head -n 1
	dpkg-query -W -f '${Version}\n' "musl-dev:$debarch" 2>/dev/null || true
	for n in "${names[@]}"; do echo "${dsc[$n]}"; done
} | sha256sum | cut -c1-16)

dir=$cache_root/$key
prefix=$dir/prefix work=$dir/work logs=$dir/logs
mkdir -p "$dir"
# Two builds of one key (make -j, two terminals) must not share a half prefix.
exec 9>"$dir/lock"
flock 9
if [ ! -f "$dir/stamp" ]; then
	t0=$SECONDS
	build_all
	echo "total $((SECONDS - t0))s" >>"$logs/times"
	touch "$dir/stamp"
	note "DEPS    $arch built in $((SECONDS - t0))s: $prefix"
fi
exec 9>&-
# A directory's age is its prefix's last use; others unused for 30 days go.
touch "$dir"
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -mtime +30 -exec rm -rf {} +

# limpet's own objects get the same flags as the libraries.
printf "PREFIX='%s'\nCC='%s'\nAR='%s'\nCFLAGS='%s'\n" \
	"$prefix" "$cc" "$gnu-ar" "$cflags -isystem $prefix/kernel-include"
exit
}

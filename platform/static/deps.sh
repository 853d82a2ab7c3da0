#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# deps.sh ARCH: build the static limpet's third-party libraries for ARCH
# (x86_64, arm64) against musl, from the Debian source packages pinned in
# platform/static/versions, into a cached prefix.  Prints shell assignments
# for static.mk on stdout (PREFIX, CC, AR, CFLAGS); progress goes to
# stderr and each library's build log to the cache.
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

[ $# -eq 1 ] || die "usage: $0 x86_64|arm64"
arch=$1

case $arch in
x86_64)	gnu=x86_64-linux-gnu musl=x86_64-linux-musl debarch=amd64 ;;
arm64)	gnu=aarch64-linux-gnu musl=aarch64-linux-musl debarch=arm64 ;;
*)	die "ARCH=$arch: not supported (x86_64 or arm64)" ;;
esac

# Debian names its musl wrapper musl-gcc for the native architecture and
# TRIPLET-gcc for the others.
if [ "$(dpkg --print-architecture 2>/dev/null)" = "$debarch" ]; then
	cc="musl-gcc"
else
	cc="$musl-gcc"
fi
command -v "$cc" >/dev/null || die "$cc: not found (make static-deps installs it)"
command -v "$gnu-ar" >/dev/null || die "$gnu-ar: not found (make static-deps installs it)"
command -v dpkg-source >/dev/null || die "dpkg-source: not found (make static-deps installs dpkg-dev)"
command -v autoreconf >/dev/null || die "autoreconf: not found (make static-deps installs it)"
asm_dir=/usr/include/$gnu/asm
[ -d "$asm_dir" ] || die "$asm_dir: missing: kernel headers for $arch (linux-libc-dev:$debarch)"

dl=${LIMPET_DL_DIR:-${HOME:?}/.cache/limpet/dl}
cache_root=${LIMPET_CACHE_DIR:-${HOME:?}/.cache/limpet}/static/$arch
jobs=${LIMPET_JOBS:-$(nproc)}
mkdir -p "$dl" "$cache_root"

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

# "curl_8.14.1-2+deb13u5.dsc" -> "8.14.1"
dsc_upstream() {
	local v=${1#*_}
	v=${v%.dsc}
	echo "${v%-*}"
}

# The newest revision of the pinned upstream version already in $dl.
dsc_in_dl() {
	local n=$1
	(cd "$dl" && { ls -1 "${src[$n]}_${upver[$n]}"-*.dsc 2>/dev/null || true; }) |
		sort -V | tail -n 1
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

# Ask apt which revision each suite has now (one call: it is the slow part),
# download what $dl lacks, and fall back to $dl when apt cannot help.
resolve() {
	local specs=() uris="" n want d
	for n in "${names[@]}"; do
		[[ ${suite[$n]} == *-orig ]] || specs+=("${src[$n]}/${suite[$n]}")
	done
	if [ "${LIMPET_OFFLINE:-}" != 1 ]; then
		# from an empty directory: apt leaves out the files it finds
		uris=$(cd "$(mktemp -d)" && apt-get source --print-uris -qq "${specs[@]}" 2>/dev/null;
			rc=$?; rmdir "$PWD"; exit $rc) ||
			note "apt knows no deb-src for some of them (make static-deps adds them); using $dl"
	fi
	for n in "${names[@]}"; do
		if [[ ${suite[$n]} == *-orig ]]; then
			orig_only "$n" || die "$n: no ${src[$n]}_${upver[$n]}.orig.tar.* with the pinned sha256 in $dl"
			continue
		fi
		d=$(awk -v p="${src[$n]}_" 'index($2, p) == 1 && $2 ~ /\.dsc$/ { print $2 }' <<<"$uris")
		if [ -n "$d" ] && [ "$(dsc_upstream "$d")" != "${upver[$n]}" ]; then
			note "$n: ${suite[$n]} now has $(dsc_upstream "$d"), the pin is ${upver[$n]}"
			d=""
		fi
		if [ -n "$d" ] && ! have_files "$d"; then
			note "FETCH   $n (${d%.dsc})"
			(cd "$dl" && apt-get source --download-only -qq "${src[$n]}/${suite[$n]}" \
				>/dev/null 2>&1) || { note "$n: apt-get source failed; using $dl"; d=""; }
		fi
		if [ -z "$d" ]; then
			d=$(dsc_in_dl "$n")
		fi
		if [ -z "$d" ] || ! have_files "$d"; then
			want="${src[$n]}_${upver[$n]}-*.dsc and its files in $dl"
			[ -n "$d" ] || die "$n: no source for ${upver[$n]}: put $want, or move the pin"
			die "$n: $d lists files that are not in $dl"
		fi
		check_orig "$n" "$d"
		dsc[$n]=$d
	done
}

# A library whose suite is "SUITE-orig": the archive serves its pinned .orig
# tarball but not the rest of the source package (a partial mirror), so it
# is built from upstream's code alone, without Debian's patches.  apt-get
# fetches what it can of the SUITE's revision; dsc[NAME] becomes "orig:FILE".
orig_only() {
	local n=$1 f rev
	if [ "${LIMPET_OFFLINE:-}" != 1 ] && ! ls "$dl/${src[$n]}_${upver[$n]}".orig.tar.* >/dev/null 2>&1; then
		rev=$(apt-cache showsrc "${src[$n]}" 2>/dev/null |
			awk -v u="${upver[$n]}" '$1 == "Version:" && index($2, u "-") == 1 { print $2 }' | tail -n 1)
		note "FETCH   $n (${src[$n]}_${upver[$n]}.orig)"
		[ -z "$rev" ] || (cd "$dl" && apt-get source --download-only -qq "${src[$n]}=$rev" \
			>/dev/null 2>&1) || true
	fi
	for f in "$dl/${src[$n]}_${upver[$n]}".orig.tar.*; do
		case $f in *.asc) continue ;; esac
		[ -f "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${sha[$n]}" ] || continue
		dsc[$n]=orig:${f##*/}
		return 0
	done
	return 1
}

check_orig() {
	local n=$1 d=$2 h f got
	while read -r h f; do
		case $f in *.orig.tar.*.asc) continue ;; *.orig.tar.*) ;; *) continue ;; esac
		got=$(sha256sum "$dl/$f" | cut -d' ' -f1)
		[ "$got" = "${sha[$n]}" ] ||
			die "$n: $f has sha256 $got, platform/static/versions pins ${sha[$n]}"
		return 0
	done < <(dsc_files "$d")
	die "$n: $d has no .orig tarball"
}

# ---------------------------------------------------------------- build

cflags="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"

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
	(cd "$1" && ./configure --static --prefix="$prefix")
	make -C "$1" -j"$jobs" libz.a
	make -C "$1" install
}

# Decompression only: libarchive reads zstd layers, nothing writes zstd.
build_zstd() {
	local opts=(ZSTD_LIB_COMPRESSION=0 ZSTD_LIB_DICTBUILDER=0 ZSTD_LIB_DEPRECATED=0
		    ZSTD_LEGACY_SUPPORT=0 PREFIX="$prefix")
	make -C "$1/lib" -j"$jobs" "${opts[@]}" libzstd.a
	make -C "$1/lib" "${opts[@]}" install-static install-includes install-pc
}

build_mbedtls() {
	local lib
	install -m 0644 "$here/mbedtls_config.h" "$1/include/mbedtls/mbedtls_config.h"
	# GEN_FILES empty: use the generated sources the release ships.
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

# Debian packages a test needs, without installing them: `apt-get download` into a cache, `dpkg -x`
# into a tree, laid over /usr, /etc and /var inside the test's private mount namespace (see
# /work/shared/TESTING.md, "Servers the tests need, without installing them on the host"). Nothing
# is installed, started or removed on the host; dpkg's database is only read.
#
#   root=$(pkgcache_fetch PKG...)   0: the unpacked tree (usr/, etc/, var/); 2: no mirror and no
#                                   cache (the caller skips); 1: any other failure (stderr says)
#   pkgcache_overlay ROOT SCRATCH   in a private mount namespace: ROOT over /usr, /etc and /var,
#                                   writable, every write kept under SCRATCH (a tmpfs)
#
# The set is PKG... plus whatever of their Depends/Pre-Depends the host lacks, as apt resolves it
# against a copy of dpkg's status without PKG... (so the host's own copies of PKG... never count,
# installed or not). The cache
# (${XDG_CACHE_HOME:-$HOME/.cache}/waveguard-test/pkgs/KEY) is keyed by the package versions: a
# new version anywhere in the set is a new key, and the old trees of the same request (PKG...)
# are removed once it is built.

PKGCACHE_DIR=${PKGCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/waveguard-test/pkgs}

_pkgcache_resolve() { # PKG...: "name=version" lines of the set, sorted
	local status rc
	status=$(mktemp)
	awk -v own=" $* " 'BEGIN { RS = ""; ORS = "\n\n" }
		{ p = $0; sub(/^Package: /, "", p); sub(/\n.*/, "", p)
		  if (index(own, " " p " ")) next
		  print }' /var/lib/dpkg/status >"$status"
	apt-get -s -q -o Dir::State::status="$status" -o Debug::NoLocking=1 install \
		--no-install-recommends "$@" 2>&1 | sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' | sort
	rc=${PIPESTATUS[0]}
	rm -f "$status"
	return "$rc"
}

pkgcache_fetch() {
	local list key dir d n pkg tmp
	list=$(_pkgcache_resolve "$@")
	if [ -z "$list" ]; then # no package lists yet (a fresh machine): fetch them once
		apt-get update -q >&2 2>/dev/null
		list=$(_pkgcache_resolve "$@")
	fi
	if [ -z "$list" ]; then
		echo "apt cannot resolve $* (no package lists?)" >&2
		return 2
	fi
	key=$(printf '%s\n' "$list" | sha256sum | cut -c1-16)
	dir=$PKGCACHE_DIR/$key
	if [ -f "$dir/complete" ]; then
		echo "$dir/root"
		return 0
	fi
	tmp=$PKGCACHE_DIR/.new-$key
	rm -rf "$tmp"
	mkdir -p "$tmp/debs" || return 1
	# shellcheck disable=SC2086
	if ! (cd "$tmp/debs" && apt-get download -q -o APT::Sandbox::User=root $list) >"$tmp/download.log" 2>&1; then
		apt-get update -q >>"$tmp/download.log" 2>&1
		# shellcheck disable=SC2086
		if ! (cd "$tmp/debs" && apt-get download -q -o APT::Sandbox::User=root $list) >>"$tmp/download.log" 2>&1; then
			tail -n 5 "$tmp/download.log" >&2
			rm -rf "$tmp"
			return 2
		fi
	fi
	n=0
	for d in "$tmp"/debs/*.deb; do
		dpkg -x "$d" "$tmp/root" || { echo "dpkg -x $d failed" >&2; return 1; }
		n=$((n + 1))
	done
	[ "$n" = "$(printf '%s\n' "$list" | wc -l)" ] || { echo "downloaded $n of: $list" >&2; return 1; }
	# A merged-/usr host: what the packages ship in /bin, /sbin, /lib lives in /usr.
	for d in bin sbin lib lib32 lib64 libx32; do
		if [ -L "/$d" ] && [ -d "$tmp/root/$d" ] && [ ! -L "$tmp/root/$d" ]; then
			mkdir -p "$tmp/root/usr/$d"
			cp -a "$tmp/root/$d/." "$tmp/root/usr/$d/" && rm -rf "${tmp:?}/root/$d"
		fi
	done
	mkdir -p "$tmp/root/usr" "$tmp/root/etc" "$tmp/root/var"
	printf '%s\n' "$list" >"$tmp/packages"
	printf '%s\n' "$@" | sort >"$tmp/request"
	rm -rf "$tmp/debs"
	rm -rf "$dir" && mv "$tmp" "$dir" && touch "$dir/complete" || return 1
	# Trees of older versions of the same request go; those of other requests (Courier's, Redis's)
	# stay, so that the tests that need them do not evict each other's downloads.
	for d in "$PKGCACHE_DIR"/*/complete; do
		d=${d%/complete}
		[ -d "$d" ] && [ "$d" != "$dir" ] || continue
		[ ! -f "$d/request" ] || cmp -s "$d/request" "$dir/request" && rm -rf "$d"
	done
	echo "$dir/root"
}

# pkgcache_hide ROOT UPPER: whiteouts in the /usr overlay's upper layer UPPER for the files that
# the host's installed copies of the set's packages have and the unpacked ones do not (another
# version): inside, every path of those packages is the cache's or nothing.
pkgcache_hide() {
	local root=$1 upper=$2 pkg f rel
	while IFS='=' read -r pkg _; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || continue
		dpkg -L "$pkg" 2>/dev/null | while IFS= read -r f; do
			case $f in
			/usr/*) rel=${f#/} ;;
			/bin/* | /sbin/* | /lib/* | /lib64/*) rel=${f#/}; [ -L "/${rel%%/*}" ] || continue; rel=usr/$rel ;;
			*) continue ;;
			esac
			[ -e "$root/$rel" ] || [ -L "$root/$rel" ] && continue
			[ -f "/$rel" ] || [ -L "/$rel" ] || continue
			mkdir -p "$upper/$(dirname "${rel#usr/}")" && mknod "$upper/${rel#usr/}" c 0 0
		done
	done <"$(dirname "$root")/packages"
}

# Mounts an overlay (LOWER over DIR, writes into SCRATCH/NAME) on DIR, keeping the mounts that were
# below DIR (a container's /etc/resolv.conf, /etc/hosts, ...) where they were.
_pkgcache_overlay_one() {
	local dir=$1 lower=$2 scratch=$3 name=${1#/} m keep
	keep=$scratch/$name.keep
	mkdir -p "$scratch/$name.up" "$scratch/$name.work" "$keep"
	local subs
	subs=$(awk -v d="$dir/" 'substr($5, 1, length(d)) == d { print $5 }' /proc/self/mountinfo | sort -u)
	[ -n "$subs" ] && { mount --rbind "$dir" "$keep" || return 1; }
	mount -t overlay overlay -o "lowerdir=$lower:$dir,upperdir=$scratch/$name.up,workdir=$scratch/$name.work" "$dir" ||
		return 1
	for m in $subs; do
		[ -e "$m" ] || { if [ -d "$keep${m#"$dir"}" ]; then mkdir -p "$m"; else mkdir -p "$(dirname "$m")"; : >"$m"; fi; }
		mount --bind "$keep${m#"$dir"}" "$m"
	done
}

pkgcache_overlay() {
	local root=$1 scratch=$2 d
	mkdir -p "$scratch"
	mount -t tmpfs -o mode=700 tmpfs "$scratch" || return 1
	mkdir -p "$scratch/usr.up"
	pkgcache_hide "$root" "$scratch/usr.up"
	for d in usr etc var; do
		_pkgcache_overlay_one "/$d" "$root/$d" "$scratch" || return 1
	done
}

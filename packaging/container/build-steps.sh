#!/usr/bin/env bash
# Runs packaging/container/Dockerfile's build stage without a container
# engine, then checks the result as the runtime stage would run it.
#
#   bash packaging/container/build-steps.sh
#
# What it does, step by step from the Dockerfile itself:
# - the build stage (`FROM … AS builder`): its WORKDIR becomes a copy of
#   the build context (the checkout minus .dockerignore's patterns) under
#   target/container/; its ENV lines are exported; `COPY . .` is that copy;
#   each RUN runs there with `sh -c`, with this machine's cargo (the stage's
#   image is not available here, so its toolchain is this one).
# - the runtime stage: each `COPY --from=builder SRC DST` copies SRC (a path
#   in the build stage) into a root file system under target/container/;
#   the `USER uid:gid` is kept.
# - checks: the binary needs only the shared libraries the distroless cc
#   image has; as the USER (setpriv: that uid and gid, no groups, no
#   capabilities, no_new_privs) it prints its version, makes a key pair
#   and validates the config the image ships.
# The build directory persists (target/container), so reruns are
# incremental; the first run is a full release build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dockerfile="$root/packaging/container/Dockerfile"
work="$root/target/container"
ctx="$work/context"
rootfs="$work/rootfs"
mkdir -p "$work"

fail() { echo "build-steps: $*" >&2; exit 1; }

# Join continuation lines, drop comments: one instruction per line.
instructions() {
  sed -e 's/^[[:space:]]*#.*$//' "$dockerfile" | awk '
    /\\$/ { sub(/\\$/, ""); buf = buf $0 " "; next }
    { line = buf $0; buf = ""; if (line ~ /[^[:space:]]/) print line }'
}

stage=""
workdir=""
user=""
declare -a runtime_copies=()
while IFS= read -r line; do
  read -r op rest <<<"$line"
  op=${op^^}
  case "$op" in
    FROM)
      if [[ "$rest" =~ [[:space:]][Aa][Ss][[:space:]]+([A-Za-z0-9_-]+)$ ]]; then
        stage=${BASH_REMATCH[1]}
      else
        stage=runtime
      fi
      echo "build-steps: stage $stage ($rest)"
      ;;
    WORKDIR)
      [[ $stage == builder ]] || fail "WORKDIR outside the build stage is not handled: $line"
      workdir=$rest
      ;;
    ENV)
      if [[ $stage == builder ]]; then
        export "${rest%%=*}=${rest#*=}"
      fi
      ;;
    COPY)
      if [[ $stage == builder ]]; then
        [[ "$rest" == ". ." ]] || fail "only COPY . . is handled in the build stage: $line"
        [[ -n $workdir ]] || fail "COPY before WORKDIR"
        excludes=()
        while IFS= read -r pat; do
          pat=${pat%%#*}
          pat=$(echo "$pat" | xargs)
          [[ -n $pat ]] && excludes+=("--exclude=./${pat#\*\*/}")
        done <"$root/.dockerignore"
        mkdir -p "$ctx"
        # Sources over the previous copy (mtimes kept, so cargo rebuilds
        # only what changed); files gone from the checkout go from the copy.
        (cd "$root" && tar -cf - "${excludes[@]}" .) | (cd "$ctx" && tar -xf -)
        (cd "$root" && find . -path ./target -prune -o -path ./.git -prune -o -type f -print) | sort >"$work/want"
        (cd "$ctx" && find . -path ./target -prune -o -type f -print) | sort >"$work/have"
        comm -13 "$work/want" "$work/have" | (cd "$ctx" && xargs -r rm -f)
      else
        [[ "$rest" =~ ^--from=builder[[:space:]]+([^[:space:]]+)[[:space:]]+([^[:space:]]+)$ ]] ||
          fail "only COPY --from=builder SRC DST is handled in the runtime stage: $line"
        runtime_copies+=("${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
      fi
      ;;
    RUN)
      [[ $stage == builder ]] || fail "RUN in the runtime stage (distroless has no shell): $line"
      echo "build-steps: RUN $rest"
      (cd "$ctx" && sh -c "$rest")
      ;;
    USER)
      user=$rest
      ;;
    ENTRYPOINT | CMD | ARG | LABEL | EXPOSE) ;;
    *) fail "instruction not handled: $line" ;;
  esac
done < <(instructions)

[[ -n $workdir && -n $user ]] || fail "no WORKDIR in the build stage or no USER in the runtime stage"
rm -rf "$rootfs"
for ((i = 0; i < ${#runtime_copies[@]}; i += 2)); do
  src=${runtime_copies[i]} dst=${runtime_copies[i + 1]}
  [[ $src == "$workdir"/* ]] || fail "COPY --from=builder $src: not under WORKDIR $workdir"
  install -D -m 0755 "$ctx/${src#"$workdir"/}" "$rootfs$dst"
done
bin="$rootfs/usr/local/bin/wingress"
[[ -x $bin ]] || fail "the runtime stage has no /usr/local/bin/wingress"

# distroless/cc-debian12 has glibc (libc, libm, libdl, libpthread, librt,
# the loader) and libgcc_s; a dependency on anything else fails here.
libs=$(ldd "$bin" | awk '{print $1}' | xargs -n1 basename | sort -u)
for lib in $libs; do
  case "$lib" in
    linux-vdso.so.1 | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1 | libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libgcc_s.so.1) ;;
    *) fail "the binary needs $lib, which the distroless cc image does not have" ;;
  esac
done

uid=${user%%:*} gid=${user#*:}
[[ $uid =~ ^[0-9]+$ && $uid != 0 ]] || fail "USER $user is not a numeric non-root uid"
if [[ $(id -u) -ne 0 ]]; then
  [[ "${WINGRESS_LAB:-auto}" == require ]] && fail "running as uid $uid needs root (setpriv)"
  echo "build-steps: not root: built and checked the libraries; skipped running as uid $uid" >&2
  exit 0
fi
as_user() { setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
install -m 0755 "$bin" "$tmp/wingress"
install -m 0644 "$rootfs/usr/share/doc/wingress/wingress.toml" "$tmp/wingress.toml"
as_user "$tmp/wingress" --version
[[ $(as_user sh -c 'id -u') == "$uid" ]] || fail "setpriv did not change the uid"
key=$(as_user "$tmp/wingress" genkey)
pub=$(printf '%s\n' "$key" | as_user "$tmp/wingress" pubkey)
[[ ${#pub} == 44 ]] || fail "pubkey printed $pub"
as_user "$tmp/wingress" check --config "$tmp/wingress.toml"
echo "build-steps: ok: $(ldd "$bin" | wc -l) shared objects, all in distroless/cc; runs as uid $uid"

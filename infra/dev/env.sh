# Shared settings for the developer scripts. Sourced, not run.
# Everything the scripts install lives outside the repository, so clones stay clean and CI runs on
# the same machine reuse it.
KUSHIM_CACHE_DIR="${KUSHIM_CACHE_DIR:-$HOME/.cache/kushim}"
export KUSHIM_CACHE_DIR
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$KUSHIM_CACHE_DIR/target}"
KUSHIM_VENV="$KUSHIM_CACHE_DIR/venv"
# Pinned Python tools: the emulator and the template linter.
KUSHIM_PY_REQUIREMENTS=("moto[server]==5.2.5" "cfn-lint==1.58.0")

kushim_venv() {
  local stamp="$KUSHIM_VENV/.kushim-requirements"
  local want="${KUSHIM_PY_REQUIREMENTS[*]}"
  if [ -x "$KUSHIM_VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "==> installing ${want} into $KUSHIM_VENV"
  mkdir -p "$KUSHIM_CACHE_DIR"
  python3 -m venv "$KUSHIM_VENV"
  "$KUSHIM_VENV/bin/pip" install --quiet --disable-pip-version-check "${KUSHIM_PY_REQUIREMENTS[@]}"
  echo "$want" > "$stamp"
}

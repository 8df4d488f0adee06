# shellcheck shell=bash
# Strict reader for /data/site/appliance.env (written by image/provision-site.sh). The file lives on the
# writable data partition, so it is parsed, never sourced: only KEY=value lines with a conservative value
# alphabet are accepted, anything else is ignored with a warning.
declare -gA SITE=()

site_env_load() {
  local file=${1:-/data/site/appliance.env} line
  [[ -r $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    if [[ $line =~ ^([A-Z][A-Z0-9_]{0,63})=([A-Za-z0-9._:,@/+=-]{0,1024})$ ]]; then
      SITE[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    else
      echo "site-env: ignoring malformed line in $file" >&2
    fi
  done <"$file"
}

# site_get KEY DEFAULT
site_get() {
  local v=${SITE[$1]-}
  if [[ -n $v ]]; then printf '%s' "$v"; else printf '%s' "${2-}"; fi
}

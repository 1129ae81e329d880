#!/bin/bash
# Issue 20: one dbt step of a daily run, as the old code and the new code start it, measured with GNU time.
#   bench/dbt_step_ab.sh before|after NAME WAREHOUSE PROJECT_DIR DAY [dbt selection args...]
# before: the window as --vars, a fresh target (what every run did: a full parse);
# after: the window in the environment, the project's partial_parse.msgpack (made by `prepare_manifest`
#        for this WAREHOUSE), the default memory limit and buildable indirect selection, as
#        dagster_project/assets/dbt.py::dbt_step_env gives them.
# Output: /tmp/dbt-step-ab/NAME.json (dbt's JSON log) and NAME.time (wall, CPU, max RSS).
set -u
which=$1; name=$2; db=$3; project=$4; day=$5; shift 5
out=/tmp/dbt-step-ab; mkdir -p $out
dbt=$(dirname "$(readlink -f "$0")")/../.venv/bin/dbt
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 ONBOARDING_DB=$db DBT_THREADS=2
target=$out/target-$name; rm -rf $target; mkdir -p $target
cd "$project"
if [ "$which" = before ]; then
  /usr/bin/time -f "$name wall %e user %U sys %S maxrss_kb %M" $dbt build --log-format json \
    --vars "{\"start_date\": \"$day\", \"end_date\": \"$day\"}" --exclude-resource-type unit_test "$@" \
    --project-dir . --profiles-dir . --target-path $target --log-path $target > $out/$name.json 2> $out/$name.time
else
  cp target/partial_parse.msgpack $target/
  ONBOARDING_DUCKDB_MEMORY_LIMIT=2048MB ONBOARDING_WINDOW_START_DATE=$day ONBOARDING_WINDOW_END_DATE=$day \
    DBT_INDIRECT_SELECTION=buildable /usr/bin/time -f "$name wall %e user %U sys %S maxrss_kb %M" $dbt build \
    --log-format json --exclude-resource-type unit_test "$@" --project-dir . --profiles-dir . \
    --target-path $target --log-path $target > $out/$name.json 2> $out/$name.time
fi
cat $out/$name.time

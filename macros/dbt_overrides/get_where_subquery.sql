{#-
    Overrides dbt's get_where_subquery (the `where` config of data tests) with two additions:
    - `where: "latest:<column>"` tests only the rows whose <column> holds its latest value, such as the rows of
      the last load (`latest:_loaded_at`) or of the last incremental batch (`latest:validated_at`). The lineage
      keys tested that way contain the load time, so rows of different loads can never share a key and the
      latest batch is the only place a duplicate can appear; a full build has one batch, so it is tested whole.
    - `where: "patched:<lead column>"` on a lead-level table that a patching refresh rewrites lead by lead
      (meta.state lead_patch, see incremental_state_is_current): in a patching refresh, tests every row of the
      leads that have a row computed by this build, old rows included, so a row the pre-hook failed to delete
      is still seen beside its replacement (and every row without a lead). The other leads' rows are exactly those the last published
      build tested, and every key tested this way starts with the lead, so no duplicate, null or bad value can
      hide there. Any other build (and a patching refresh whose table was rebuilt in full: every row is then
      of this build) tests the whole table.
    Any other `where` works as in dbt.
-#}
{% macro get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where and where.startswith('latest:') %}
        {% set column = where[7:] %}
        {% do return(
            '(select * from ' ~ relation ~ ' where ' ~ column ~ ' = (select max(' ~ column ~ ') from '
            ~ relation ~ ')) dbt_subquery'
        ) %}
    {% elif where and where.startswith('patched:') %}
        {% set column = where[8:] %}
        {% if build_parameter('patch_base_build_id') == '' %}
            {% do return(relation) %}
        {% endif %}
        {% set build_id = build_parameter('build_id', 'adhoc') %}
        {% do return(
            '(select * from ' ~ relation ~ ' where ' ~ column ~ ' is null or ' ~ column
            ~ ' in (select rewritten.' ~ column ~ ' from '
            ~ relation ~ " as rewritten where rewritten.build_id = '" ~ build_id ~ "')) dbt_subquery"
        ) %}
    {% elif where %}
        {% do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') %}
    {% else %}
        {% do return(relation) %}
    {% endif %}
{%- endmacro %}

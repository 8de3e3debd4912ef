{#-
    Whether the current model's table may be carried forward (an incremental refresh) rather than rebuilt in
    full: the one state check of every incremental model, driven by its state spec (meta.state; the keys are
    those of state_columns, which writes the state this reads back; docs/incremental-refresh.md).
    - Spark: never (its Parquet tables have no delete: every build is a full one); no table yet: never.
    - lead_patch (the lead-level tables): `leadscore build` asked for a patch (build parameter
      patch_base_build_id: the last published build had the same as-of date, point tables and code, and no
      raw row it read has gone since) and no row of the table comes from a later build (build ids sort by
      time). A manual dbt run, Dagster without a plan, or a table without build_id rebuilds in full.
    - Any other spec: the table has its state columns and unique_key columns, holds rows, all of one
      state_key equal to the current state_key (same point-table columns, same input states), and:
      as_of_column: the as-of date did not move back (decay only runs forward);
      batches_of: that model was not rebuilt since (its oldest validated_at is not after validated_through);
      validates: as many staged rows loaded up to the table's last load as the table holds (an append keeps
      them; a full load replaces them with rows of a later load time);
      appended_only: that model still holds the <prefix>_row_count rows loaded up to <prefix>_loaded_through;
      latest_batch: the state is read from the rows of that column's latest value only.
    Logs "<model>: incremental refresh (new data only)" or "<model>: full rebuild (<why>)", which `leadscore
    build` reports (pipeline.incremental_decisions). The answer is cached per model for the run, so the model's
    SQL and the materialization, which both ask (should_full_refresh), always agree.
    Arguments: state (the model's state spec, meta.state).
-#}
{% macro incremental_state_is_current(state) %}
    {% set cache = graph.setdefault('_leadscore_state_cache', {}) %}
    {% if model.unique_id in cache %}
        {{ return(cache[model.unique_id]) }}
    {% endif %}
    {% set existing = adapter.get_relation(this.database, this.schema, this.identifier) %}
    {% set columns = [] %}
    {% if existing is not none and existing.type == 'table' and target.type != 'spark' %}
        {% set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {% endif %}
    {% set current_key = state_key(state) %}
    {% set appended = state.get('appended_only') or {} %}
    {% set needed = ['build_id'] if state.get('lead_patch') else ['state_key'] %}
    {% for key, column in [('as_of_column', state.get('as_of_column')), ('batches_of', 'validated_through'),
                           ('latest_batch', state.get('latest_batch'))] if state.get(key) %}
        {% do needed.append(column) %}
    {% endfor %}
    {% for prefix in appended.values() %}
        {% do needed.extend([prefix ~ '_loaded_through', prefix ~ '_row_count']) %}
    {% endfor %}
    {% set unique_key = config.get('unique_key') or [] %}
    {% do needed.extend([unique_key] if unique_key is string else unique_key) %}
    {% set missing = needed | reject('in', columns) | list %}
    {% set base = build_parameter('patch_base_build_id') %}
    {% set conditions = [] %}
    {% if state.get('lead_patch') %}
        {% do conditions.append((
            'rows of a build after ' ~ base,
            "coalesce((select max(build_id) from " ~ this ~ ") <= '" ~ base ~ "', true)"
        )) %}
    {% else %}
        {% do conditions.append(('the table is empty', 'state.row_count > 0')) %}
        {% do conditions.append((
            'the point tables or input states it was made with changed',
            'state.state_key_count = 1 and state.state_key = ' ~ current_key
        )) %}
    {% endif %}
    {% if state.get('as_of_column') %}
        {% do conditions.append(('the as-of date moved back', 'state.as_of_end_at <= ' ~ as_of_end_at())) %}
    {% endif %}
    {% if state.get('batches_of') %}
        {% do conditions.append((
            state['batches_of'] ~ ' was rebuilt',
            '(select min(batches.validated_at) from ' ~ ref(state['batches_of']) ~ ' as batches)'
            ~ ' <= state.validated_through'
        )) %}
    {% endif %}
    {% if state.get('validates') %}
        {% do conditions.append((
            'rows of ' ~ state['validates'] ~ ' it validated were replaced',
            '(select count(*) from ' ~ this ~ ') = (select count(*) from ' ~ ref(state['validates'])
            ~ ' as staged where staged.loaded_at <= (select max(previous.loaded_at) from ' ~ this
            ~ ' as previous))'
        )) %}
    {% endif %}
    {% for input, prefix in appended.items() %}
        {% do conditions.append((
            'rows of ' ~ input ~ ' were replaced',
            '(select count(*) from ' ~ ref(input) ~ ' as appended where appended.loaded_at <= state.'
            ~ prefix ~ '_loaded_through) = state.' ~ prefix ~ '_row_count'
        )) %}
    {% endfor %}
    {% if target.type == 'spark' %}
        {% set why = 'the engine rebuilds its tables' %}
    {% elif existing is none or existing.type != 'table' %}
        {% set why = 'no table yet' %}
    {% elif state.get('lead_patch') and base == '' %}
        {% set why = 'not a patching refresh' %}
    {% elif missing %}
        {% set why = 'the table has no column ' ~ missing | join(', ') %}
    {% else %}
        {% set sql %}
            with

            state as (

                select
                    count(*) as row_count
                    {%- if not state.get('lead_patch') %},
                    count(distinct state_key) as state_key_count,
                    min(state_key) as state_key
                    {%- endif %}
                    {%- if state.get('as_of_column') %},
                    max({{ state['as_of_column'] }}) as as_of_end_at
                    {%- endif %}
                    {%- if state.get('batches_of') %},
                    max(validated_through) as validated_through
                    {%- endif %}
                    {%- for prefix in appended.values() %},
                    max({{ prefix }}_loaded_through) as {{ prefix }}_loaded_through,
                    max({{ prefix }}_row_count) as {{ prefix }}_row_count
                    {%- endfor %}
                from {{ this }}
                {%- if state.get('latest_batch') %}
                where {{ state['latest_batch'] }} = (
                    select max(latest.{{ state['latest_batch'] }}) from {{ this }} as latest
                )
                {%- endif %}

            )

            select
                {%- for why, condition in conditions %}
                coalesce({{ condition }}, false) as holds_{{ loop.index }}{{ ',' if not loop.last }}
                {%- endfor %}
            from state
        {% endset %}
        {% set row = run_query(sql).rows[0] %}
        {% set failed = [] %}
        {% for why, condition in conditions %}
            {% if row[loop.index0] != true %}
                {% do failed.append(why) %}
            {% endif %}
        {% endfor %}
        {% set why = failed[0] if failed else '' %}
    {% endif %}
    {% set is_current = why == '' %}
    {% do cache.update({model.unique_id: is_current}) %}
    {% set decision = 'incremental refresh (new data only)' if is_current else 'full rebuild (' ~ why ~ ')' %}
    {{ log(model.name ~ ': ' ~ decision, info=true) }}
    {{ return(is_current) }}
{% endmacro %}

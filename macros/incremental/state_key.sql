{#-
    A scalar SQL expression: the fingerprint of what an incremental model's rows were made with besides the rows
    it read. Its parts, in order: for each point table of state.seeds (by name), the md5 of the given columns
    of every row, rows in order; for each of state.seed_values, the same over each distinct combination of the
    columns once (a state that depends on a set of values, such as the event types of engagement_event_points,
    is then not rebuilt when a row repeats a value); then the state_key of each model of state.input_states (a
    state made from what those models decided). One part alone is that part; several are the md5 of the parts.
    The model writes it in column state_key (state_columns); incremental_state_is_current compares the two.
    A key of the spec it does not know is a compilation error naming the model (a typo would otherwise drop a
    condition from the check, or make every build a full one).
    Arguments: state (the model's state spec, meta.state).
-#}
{% macro state_key(state) -%}
    {%- set known = [
        'seeds', 'seed_values', 'input_states', 'batches_of', 'validates', 'appended_only', 'as_of_column',
        'latest_batch', 'lead_patch',
    ] -%}
    {%- for key in state if key not in known -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": meta.state has an unknown key '" ~ key ~ "' (known: " ~ known | join(', ') ~ ")"
        ) }}
    {%- endfor -%}
    {%- set parts = [] -%}
    {%- for kind in ['seeds', 'seed_values'] -%}
        {%- for seed in (state.get(kind) or {}) | sort -%}
            {%- set columns = state[kind][seed] -%}
            {%- set values = [] -%}
            {%- for column in columns -%}
                {%- do values.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
            {%- endfor -%}
            {%- set rows = ref(seed) if kind == 'seeds' else
                '(select distinct ' ~ columns | join(', ') ~ ' from ' ~ ref(seed) ~ ')' -%}
            {%- do parts.append(
                '(select md5(' ~ sorted_listagg(values | join(" || ':' || "), "'|'") ~ ') as state_key from '
                ~ rows ~ ' as seed_rows)'
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for input in state.get('input_states') or [] -%}
        {%- do parts.append(
            "coalesce((select min(upstream.state_key) from " ~ ref(input) ~ " as upstream), '')"
        ) -%}
    {%- endfor -%}
    {%- if parts | length == 0 -%}
        ''
    {%- elif parts | length == 1 -%}
        {{ parts[0] }}
    {%- else -%}
        (select md5({{ parts | join(' || ') }}))
    {%- endif -%}
{%- endmacro %}

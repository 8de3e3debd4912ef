{#-
    The state columns an incremental model writes with every row, from its state spec (meta.state), as the last
    items of its select list; incremental_state_is_current reads them back before the next build. In order:
    - as_of_column: the end of the as-of date (as_of_end_at) the rows were computed at;
    - batches_of: validated_through, the latest validated_at of that model the rows include;
    - appended_only {model: prefix}: <prefix>_loaded_through and <prefix>_row_count, that model's latest
      loaded_at and row count when the rows were made;
    - state_key: the fingerprint of state_key (seeds, seed_values, input_states).
    It also refs the staged model of validates, so every relation the check reads is a declared parent.
    (state_key refuses a key of the spec it does not know.)
    Arguments: state (the model's state spec, the dict it passes as meta.state).
-#}
{% macro state_columns(state) -%}
    {%- set columns = [] -%}
    {%- if state.get('as_of_column') -%}
        {%- do columns.append(as_of_end_at() ~ ' as ' ~ state['as_of_column']) -%}
    {%- endif -%}
    {%- if state.get('batches_of') -%}
        {%- do columns.append(
            '(select max(batches.validated_at) from ' ~ ref(state['batches_of']) ~ ' as batches)'
            ~ ' as validated_through'
        ) -%}
    {%- endif -%}
    {%- for input, prefix in (state.get('appended_only') or {}).items() -%}
        {%- do columns.append(
            '(select max(appended.loaded_at) from ' ~ ref(input) ~ ' as appended) as ' ~ prefix ~ '_loaded_through'
        ) -%}
        {%- do columns.append('(select count(*) from ' ~ ref(input) ~ ' as appended) as ' ~ prefix ~ '_row_count') -%}
    {%- endfor -%}
    {%- if state.get('validates') -%}
        {%- do ref(state['validates']) -%}
    {%- endif -%}
    {%- do columns.append(state_key(state) ~ ' as state_key') -%}
    {{ columns | join(',\n') }}
{%- endmacro %}

{#-
    A SQL condition for an incremental validation state check: the current model's table holds as many rows as
    the staged model has rows loaded up to the table's last load, so every raw row it validated is still
    there (an append keeps them; a full load replaces them with rows of a later load time).
    Arguments: staged (the staged relation the table validates, e.g. ref('stg_raw__leads')).
-#}
{% macro validated_rows_still_loaded(staged) -%}
    (select count(*) from {{ this }}) = (
        select count(*) from {{ staged }} as staged
        where staged.loaded_at <= (select max(previous.loaded_at) from {{ this }} as previous)
    )
{%- endmacro %}

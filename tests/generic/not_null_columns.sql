{#-
    Fails with one row per row that has a null in any of the columns: the names of its null columns
    (null_columns, comma-separated) and the row itself. One scan and one dbt node for all the required columns
    of a table, instead of one not_null test each (a dbt node costs about 60 ms whatever the table's size, and
    a build ran 115 of them). Primary-key columns keep their own not_null beside unique.
-#}
{% test not_null_columns(model, column_names) %}

with

checked as (

    select
        concat_ws(
            ', ',
            {%- for column in column_names %}
            case when {{ column }} is null then '{{ column }}' end{{ ',' if not loop.last }}
            {%- endfor %}
        ) as null_columns,
        *
    from {{ model }}

)

select * from checked
where null_columns <> ''

{% endtest %}

{#-
    Pre-hook of lead_score_history on DuckDB and PostgreSQL: delete every row of the score date and scoring
    version this build writes, whatever their lead, so that the append that follows replaces that day as a whole,
    as insert_overwrite replaces its partition on Spark (a lead no longer scored leaves no stale row, and the
    delete reads the day's rows only, not a key join against the whole history). Renders nothing on Spark and
    when the table is first built.
-#}
{% macro history_day_deleted() -%}
    {%- if is_incremental() and target.type != 'spark' -%}
        delete from {{ this }}
        where (score_date, scoring_version) in (
            select distinct
                scores.as_of_date,
                scores.scoring_version
            from {{ ref('lead_scores') }} as scores
        )
    {%- endif -%}
{%- endmacro %}

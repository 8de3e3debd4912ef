{#-
    Post-hook of lead_scores: after a patching refresh (only the changed leads' rows rewritten), rank every
    lead again over the whole table and stamp every row with this build's build_id. Renders nothing after a
    full rebuild, whose rank and build_id are already those of the whole table.
-#}
{% macro lead_scores_reranked() -%}
    {%- if is_incremental() -%}
        update {{ this }} as scores
        set
            lead_rank = ranked.lead_rank,
            build_id = '{{ build_parameter("build_id", "adhoc") }}'
        from (
            select
                lead_id,
                row_number() over (order by {{ lead_rank_order() }}) as lead_rank
            from {{ this }}
        ) as ranked
        where scores.lead_id = ranked.lead_id
    {%- endif -%}
{%- endmacro %}

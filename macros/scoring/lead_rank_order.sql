{#-
    The order of lead_rank in lead_scores (highest score first, then engagement, then fit, then lead id): the
    same in the model and in the re-rank after a patching refresh (lead_scores_reranked).
    Arguments: prefix (optional table alias with its dot, e.g. 'scores.').
-#}
{% macro lead_rank_order(prefix='') -%}
    {{ prefix }}score_total desc, {{ prefix }}engagement_points desc, {{ prefix }}fit_score desc,
    {{ prefix }}lead_id asc
{%- endmacro %}

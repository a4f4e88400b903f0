{#- The articles an incremental model has not seen yet: those of batches it holds no row of.
    Articles are append-only and a batch is loaded whole in one run, so "batch not seen" is
    exact; a batch that gave the model no row (say, no article naming two actors) is looked
    at again next night and gives none again. On a first or --full-refresh build: all. -#}
{% macro unprocessed_articles() %}
    select a.article_id, a.batch_id
    from {{ source('newsdesk', 'articles') }} as a
    {% if is_incremental() %}
    where not exists (select 1 from {{ this }} as seen where seen.batch_id = a.batch_id)
    {% endif %}
{% endmacro %}

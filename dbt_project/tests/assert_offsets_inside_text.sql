-- Every span points inside its article, and the text at the span is what the row says.
-- With var tests_scope=batch (the pipeline passes it) only tonight's articles are checked,
-- the batch named in the work database's build_batch table: detail rows are append-only and
-- each batch's rows were checked when it was loaded, so re-reading every mention of the
-- whole corpus every night proves nothing new. Without the var (a manual `dbt test`) the
-- whole warehouse is checked. Tokens, ~600 an article, are checked by
-- assert_token_offsets_inside_text (cut from their sentence, not from the article).
{% set batch_id = var('tests_scope', 'all') == 'batch' %}
with a as (
    select article_id, text, n_chars from {{ source('newsdesk', 'articles') }}
    {% if batch_id %}where batch_id in (select batch_id from "{{ target.database }}".main.build_batch){% endif %}
),
spans as (
    select 'entity_mentions' as tbl, article_id, "start", "end", text as span_text
    from {{ source('newsdesk', 'entity_mentions') }}
    union all
    select 'quotes', article_id, "start", "end", quote_text from {{ source('newsdesk', 'quotes') }}
    union all
    select 'sentences', article_id, "start", "end", null from {{ source('newsdesk', 'sentences') }}
)
select s.tbl, s.article_id, s."start", s."end", s.span_text
from spans as s
{% if batch_id %}
join a using (article_id)
where
{% else %}
left join a using (article_id)
where a.article_id is null or
{% endif %}
   s."start" < 0 or s."end" <= s."start" or s."end" > a.n_chars
   or (s.span_text is not null and substring(a.text, s."start" + 1, s."end" - s."start") != s.span_text)

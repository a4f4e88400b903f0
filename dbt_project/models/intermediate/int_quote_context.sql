{{ config(materialized='incremental', incremental_strategy='append') }}
-- Each quotation's sentence(s), as written: the article text from the first sentence the
-- quotation touches to the end of the last (a line break between paragraphs read as a space).
-- Neither the text nor the offsets ever change, so it is computed once per article, the night
-- the article arrives, instead of over the whole corpus nightly.
-- (Offsets first, text last: the range join and the min/max run on integers, then one cut of
-- the article's text per quotation. Cutting every sentence's text first and joining those
-- strings with string_agg ran out of the 512MB memory limit at 100k articles (633k quotations)
-- on DuckDB 1.5.5; joining the articles' full texts to the matched offsets before aggregating
-- made DuckDB hold every text in a hash table, also out of memory.)
with new_articles as (
    {{ unprocessed_articles() }}
),

spans as (
    select q.quote_id, q.article_id, min(s."start") as s_start, max(s."end") as s_end
    from {{ source('newsdesk', 'quotes') }} as q
    join {{ source('newsdesk', 'sentences') }} as s
      on s.article_id = q.article_id and s."start" < q."end" and s."end" > q."start"
    where q.article_id in (select article_id from new_articles)
    group by q.quote_id, q.article_id
)

select p.quote_id, n.batch_id,
       regexp_replace(substring(a.text, p.s_start + 1, p.s_end - p.s_start), '\s*\n\s*', ' ', 'g') as sentence
from spans as p
join new_articles as n using (article_id)
join {{ source('newsdesk', 'articles') }} as a using (article_id)

{{ config(materialized='incremental', incremental_strategy='append') }}
-- Each quotation's sentence(s), as written: a range join of quotes on sentences, cut from
-- the article text. Neither the text nor the offsets ever change, so it is computed once
-- per article, the night the article arrives, instead of over the whole corpus nightly.
with new_articles as (
    {{ unprocessed_articles() }}
)

select
    q.quote_id,
    n.batch_id,
    string_agg(substring(a.text, s."start" + 1, s."end" - s."start"), ' ' order by s.sentence_id) as sentence
from {{ source('newsdesk', 'quotes') }} as q
join new_articles as n using (article_id)
join {{ source('newsdesk', 'articles') }} as a using (article_id)
join {{ source('newsdesk', 'sentences') }} as s
    on s.article_id = q.article_id and s."start" < q."end" and s."end" > q."start"
group by q.quote_id, n.batch_id

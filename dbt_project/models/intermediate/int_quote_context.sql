{{ config(materialized='incremental', incremental_strategy='append') }}
-- Each quotation's sentence(s), as written: a range join of quotes on sentences, cut from
-- the article text. Neither the text nor the offsets ever change, so it is computed once
-- per article, the night the article arrives, instead of over the whole corpus nightly.
-- (The sentences' text is cut before the range join: joining the articles' full texts to
-- the matched offsets instead made DuckDB hold every text in a hash table, out of memory.)
with new_articles as (
    {{ unprocessed_articles() }}
),

sentences as (
    select s.article_id, s.sentence_id, s."start", s."end",
           substring(a.text, s."start" + 1, s."end" - s."start") as sentence_text
    from {{ source('newsdesk', 'sentences') }} as s
    join {{ source('newsdesk', 'articles') }} as a using (article_id)
    where s.article_id in (select article_id from new_articles)
)

select q.quote_id, n.batch_id, string_agg(s.sentence_text, ' ' order by s.sentence_id) as sentence
from {{ source('newsdesk', 'quotes') }} as q
join new_articles as n using (article_id)
join sentences as s on s.article_id = q.article_id and s."start" < q."end" and s."end" > q."start"
group by q.quote_id, n.batch_id

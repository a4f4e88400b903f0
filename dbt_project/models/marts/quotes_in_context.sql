-- Every direct quotation with its speaker, the sentence(s) it was said in and the article
-- it came from: what the dashboard's quote search and analysts' "quotes of X" questions read.
-- The speaker is the corpus-wide actor (its display name), as in the other marts. The
-- sentences are found once per quote, the night it arrives (int_quote_context).
select
    q.quote_id,
    q.speaker_id,
    t.name as speaker,
    t.actor_type as speaker_type,
    q.speaker_role,
    q.cue,
    q.attribution,
    q.quote_text,
    length(q.quote_text) as quote_chars,
    c.sentence,
    q.article_id,
    a.title,
    a.url,
    a.outlet,
    a.published_at,
    a.seen_at
from {{ ref('stg_quotes') }} as q
join {{ ref('stg_articles') }} as a using (article_id)
left join {{ ref('int_quote_context') }} as c using (quote_id)
left join {{ ref('actors') }} as t on t.actor_id = q.speaker_id

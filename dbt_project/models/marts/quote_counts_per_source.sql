-- Who is quoted (the source: a person or organisation), through which outlet, how often.
-- Sources are corpus-wide actors, so a person quoted as "Trump" in one article and as
-- "Donald Trump" in another is one source. Unattributed quotations are not counted here;
-- they stay in the quotes table.
select
    q.speaker_id as source_id,
    s.name as source,
    s.actor_type as source_type,
    a.outlet,
    count(*) as quotes,
    count(distinct q.article_id) as articles,
    min(a.seen_at) as first_quoted,
    max(a.seen_at) as last_quoted
from {{ ref('stg_quotes') }} as q
join {{ ref('stg_articles') }} as a using (article_id)
join {{ ref('actors') }} as s on s.actor_id = q.speaker_id
where q.speaker_id is not null
group by q.speaker_id, s.name, s.actor_type, a.outlet

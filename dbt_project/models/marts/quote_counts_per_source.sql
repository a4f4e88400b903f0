-- Who is quoted (the source: a person or organisation), through which outlet, how often.
-- Unattributed quotations have no source and are not counted here; they stay in quotes.
with attributed as (
    select q.speaker, q.speaker_type, q.article_id, a.outlet, a.seen_at
    from {{ ref('stg_quotes') }} as q
    join {{ ref('stg_articles') }} as a using (article_id)
    where q.speaker is not null
),

type_votes as (
    select speaker, speaker_type, count(*) as n
    from attributed
    group by all
),

source_types as (
    select speaker, first(speaker_type order by n desc, speaker_type) as source_type
    from type_votes
    group by speaker
)

select
    q.speaker as source,
    t.source_type,
    q.outlet,
    count(*) as quotes,
    count(distinct q.article_id) as articles,
    min(q.seen_at) as first_quoted,
    max(q.seen_at) as last_quoted
from attributed as q
join source_types as t using (speaker)
group by q.speaker, t.source_type, q.outlet

-- Whose voices the news carries, by gender: quotations of people per outlet and UTC day, by
-- the speaker's gender as the articles themselves write it (actors.gender: their pronouns and
-- honorifics, never a first-name list). Speakers whose gender no article states are counted
-- apart as 'unknown', so the male and female shares are of the quotes whose gender is known,
-- and the unknown share says how much that leaves out. Only people: organisations and places
-- have no gender here.
with quotes as (
    select
        cast(timezone('UTC', a.seen_at) as date) as day,
        a.outlet,
        coalesce(s.gender, 'unknown') as gender,
        q.speaker_id,
        q.article_id
    from {{ ref('stg_quotes') }} as q
    join {{ ref('stg_articles') }} as a using (article_id)
    join {{ ref('actors') }} as s on s.actor_id = q.speaker_id
    where s.actor_type = 'person'
),

counts as (
    select day, outlet, gender, count(*) as quotes, count(distinct speaker_id) as speakers,
           count(distinct article_id) as articles
    from quotes
    group by all
)

select
    day,
    outlet,
    gender,
    quotes::bigint as quotes,  -- the contract says bigint
    speakers::bigint as speakers,
    articles::bigint as articles,
    (quotes / sum(quotes) over (partition by day, outlet))::double as share_of_quotes,
    case when gender <> 'unknown' then
        (quotes / nullif(sum(case when gender <> 'unknown' then quotes end) over (partition by day, outlet), 0))::double
    end as share_of_known
from counts

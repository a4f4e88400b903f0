-- Each speaker's most reported quotations: the same words carried by several articles or
-- outlets rank first, then longer (more substantive) ones, then the earliest. One row per
-- (speaker, rank) up to var('top_quotes_per_actor'), shown with the first article that carried it.
with attributed as (
    select *, lower(regexp_replace(trim(quote_text), '\s+', ' ', 'g')) as quote_key
    from {{ ref('quotes_in_context') }}
    where speaker_id is not null
),

grouped as (
    select
        speaker_id,
        any_value(speaker) as speaker,
        quote_key,
        count(distinct article_id) as articles,
        count(distinct outlet) as outlets,
        min(seen_at) as first_quoted,
        max(seen_at) as last_quoted,
        first(quote_id order by seen_at, quote_id) as quote_id
    from attributed
    group by speaker_id, quote_key
),

ranked as (
    select
        *,
        row_number() over (
            partition by speaker_id order by articles desc, outlets desc, length(quote_key) desc, first_quoted, quote_key
        ) as rank
    from grouped
)

select
    r.speaker_id,
    r.speaker,
    r.rank,
    q.quote_text,
    r.articles,
    r.outlets,
    r.first_quoted,
    r.last_quoted,
    q.quote_id,
    q.cue,
    q.sentence,
    q.article_id,
    q.title,
    q.url,
    q.outlet
from ranked as r
join {{ ref('quotes_in_context') }} as q using (quote_id)
where r.rank <= {{ var('top_quotes_per_actor', 10) }}

-- Who is mentioned with whom: one row per pair of actors named in the same article
-- (actor_a < actor_b, so each pair appears once), with how many articles and sentences
-- name both. Pairs in one sentence are the tighter link ("Putin told Trump...").
with article_actors as (
    select distinct article_id, actor from {{ ref('stg_entity_mentions') }}
),

sentence_actors as (
    select distinct article_id, sentence_id, actor from {{ ref('stg_entity_mentions') }}
),

pairs as (
    select a.article_id, a.actor as actor_a, b.actor as actor_b
    from article_actors as a
    join article_actors as b on a.article_id = b.article_id and a.actor < b.actor
),

sentence_pairs as (
    select a.actor as actor_a, b.actor as actor_b, count(*) as sentences
    from sentence_actors as a
    join sentence_actors as b
        on a.article_id = b.article_id and a.sentence_id = b.sentence_id and a.actor < b.actor
    group by all
),

article_pairs as (
    select p.actor_a, p.actor_b, count(*) as articles, min(a.seen_at) as first_seen, max(a.seen_at) as last_seen
    from pairs as p
    join {{ ref('stg_articles') }} as a using (article_id)
    group by all
)

select
    p.actor_a,
    ta.actor_type as actor_a_type,
    p.actor_b,
    tb.actor_type as actor_b_type,
    p.articles,
    coalesce(s.sentences, 0) as sentences,
    p.first_seen,
    p.last_seen
from article_pairs as p
join {{ ref('mentions_per_actor') }} as ta on ta.actor = p.actor_a
join {{ ref('mentions_per_actor') }} as tb on tb.actor = p.actor_b
left join sentence_pairs as s using (actor_a, actor_b)

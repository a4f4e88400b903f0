-- Who is mentioned with whom: one row per pair of actors named in the same article, with
-- how many articles and sentences name both. Pairs in one sentence are the tighter link
-- ("Putin told Trump..."). Each pair appears once, actor_a's name sorting first (the id
-- breaks a tie between two actors of the same name).
with named as (
    select distinct m.article_id, m.sentence_id, m.actor_id, t.name, t.actor_type
    from {{ ref('stg_entity_mentions') }} as m
    join {{ ref('actors') }} as t using (actor_id)
),

article_actors as (
    select distinct article_id, actor_id, name, actor_type from named
),

pairs as (
    select
        a.article_id,
        a.actor_id as actor_a_id, a.name as actor_a, a.actor_type as actor_a_type,
        b.actor_id as actor_b_id, b.name as actor_b, b.actor_type as actor_b_type
    from article_actors as a
    join article_actors as b
        on a.article_id = b.article_id
        and (a.name < b.name or (a.name = b.name and a.actor_id < b.actor_id))
),

sentence_pairs as (
    select a.actor_id as actor_a_id, b.actor_id as actor_b_id, count(*) as sentences
    from named as a
    join named as b
        on a.article_id = b.article_id and a.sentence_id = b.sentence_id
        and (a.name < b.name or (a.name = b.name and a.actor_id < b.actor_id))
    group by all
)

select
    p.actor_a_id,
    p.actor_a,
    p.actor_a_type,
    p.actor_b_id,
    p.actor_b,
    p.actor_b_type,
    count(*) as articles,
    coalesce(any_value(s.sentences), 0) as sentences,
    min(a.seen_at) as first_seen,
    max(a.seen_at) as last_seen
from pairs as p
join {{ ref('stg_articles') }} as a using (article_id)
left join sentence_pairs as s using (actor_a_id, actor_b_id)
group by p.actor_a_id, p.actor_a, p.actor_a_type, p.actor_b_id, p.actor_b, p.actor_b_type

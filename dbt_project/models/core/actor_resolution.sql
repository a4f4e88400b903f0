-- Corpus-level clean-up of actor ids, recomputed on every build.
--
-- The NLP stage links names across articles as it goes (pipeline/linking.py), but it can
-- only use what it has seen: a bare "Obama" processed before any "Barack Obama" became an
-- actor of its own, and "Donald J. Trump" is a different written name from "Donald Trump".
-- Looking at the whole corpus, this model maps such ids onto the full-name actor when the
-- match is unambiguous:
--   surname:        a one-word person name equal to the last word of exactly one multi-word
--                   person ("Obama" -> "Barack Obama"; with a "Michelle Obama" too, nothing);
--   middle_initial: a person name whose middle words are initials, equal to exactly one
--                   person's first and last word ("Donald J. Trump" -> "Donald Trump").
-- Raw ids stay in the detail tables (stable, as assigned); staging exposes the resolved id.
with mentions as (
    select actor_id, actor, actor_type
    from {{ source('newsdesk', 'entity_mentions') }}
    where actor is not null
),

best_name as (  -- as in the actors model: the most frequent full written form
    select actor_id, first(actor order by (actor like '% %') desc, n desc, actor) as name
    from (select actor_id, actor, count(*) as n from mentions group by all)
    group by actor_id
),

best_type as (
    {{ most_common('mentions', 'actor_id', 'actor_type') }}
),

raw_actors as (
    select actor_id, n.name, t.actor_type from best_name as n join best_type as t using (actor_id)
),

persons as (
    select actor_id, name, string_split(name, ' ') as words
    from raw_actors
    where actor_type = 'person'
),

full_names as (
    select actor_id, lower(words[-1]) as surname, lower(words[1] || ' ' || words[-1]) as first_last, words
    from persons
    where len(words) >= 2
),

plain_full_names as (  -- full names without initials: the targets of middle-initial matches
    select * from full_names
    where not coalesce(list_bool_or(list_transform(words[2:-2], lambda w: regexp_matches(w, '^[A-Z]\.?$'))), false)
),

by_surname as (
    select p.actor_id, min(f.actor_id) as target, count(distinct f.actor_id) as candidates
    from persons as p
    join full_names as f on f.surname = lower(p.name)
    where len(p.words) = 1
    group by p.actor_id
),

by_initials as (
    select f.actor_id, min(t.actor_id) as target, count(distinct t.actor_id) as candidates
    from full_names as f
    join plain_full_names as t on t.first_last = f.first_last and len(t.words) = 2
    where len(f.words) >= 3
      and coalesce(list_bool_and(list_transform(f.words[2:-2], lambda w: regexp_matches(w, '^[A-Z]\.?$'))), false)
    group by f.actor_id
)

select
    r.actor_id as raw_actor_id,
    coalesce(
        case when s.candidates = 1 then s.target end,
        case when i.candidates = 1 then i.target end,
        r.actor_id
    ) as actor_id,
    case
        when s.candidates = 1 then 'surname'
        when i.candidates = 1 then 'middle_initial'
        else 'self'
    end as resolution
from raw_actors as r
left join by_surname as s using (actor_id)
left join by_initials as i using (actor_id)

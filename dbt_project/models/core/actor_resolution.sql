-- Corpus-level clean-up of actor ids, recomputed on every build.
--
-- The NLP stage links names across articles as it goes (pipeline/linking.py), but it can
-- only use what it has seen: a bare "Obama" processed before any "Barack Obama" became an
-- actor of its own, "Donald J. Trump" is a different written name from "Donald Trump", and
-- an article with no context typed "Chelsea" a person where a hundred others say it is a club.
-- Looking at the whole corpus, this model maps such ids onto one actor when the evidence is
-- clear, in this order (the first that applies wins; a target that is itself mapped is
-- followed one step further):
--   retype:         the same name carried by an actor of another type with at least twice
--                   its mentions ("Chelsea" typed person in a few articles, organisation in
--                   most): the corpus's majority says what the name is;
--   surname:        a one-word person name equal to the last word of exactly one multi-word
--                   person ("Obama" -> "Barack Obama"; with a "Michelle Obama" too, nothing)
--                   whose full name is shaped like a person's (two to four capitalised words,
--                   no dash between them, the last no acronym): "Nintendo UK" does not take
--                   every "UK" the model mistook for a person;
--   middle_initial: a person name whose middle words are initials, equal to exactly one
--                   person's first and last word ("Donald J. Trump" -> "Donald Trump");
--   middle_name:    a three-word person name equal, first and last word, to exactly one
--                   two-word person written at least as often ("Hillary Rodham Clinton" ->
--                   "Hillary Clinton");
--   prefix:         a person name of three or more words whose words after the first are
--                   exactly one other person's full name, written at least as often: a label
--                   glued before the name by the NER ("Republican Donald Trump" -> "Donald
--                   Trump"; the article wrote "Republican Donald Trump said");
--   short_form:     an organisation or place written only as an acronym or a short form in
--                   some articles ("NIESR", "US") that other articles wrote as the short form
--                   of one longer name (at least 3 in 4 of the form's resolved mentions) ("National Institute of Economic and Social
--                   Research (NIESR)", "the United States ... the US"): the NLP stage linked
--                   those mentions to the long name, this model extends the link to the
--                   articles that never wrote the long name;
--   abbreviation:   an organisation name of two or more words that abbreviates every word it
--                   does not repeat of exactly one longer organisation name (three or four
--                   letters that begin a word of six or more, a plural "s" aside: "Lib Dems"
--                   -> "Liberal Democrats", "Man United" -> "Manchester United"), where at
--                   least one article writes both ("The Sims" is not "The Simpsons"); names
--                   that differ only by a plural are different things ("Rolling Stone").
-- Then, on the result, same_name: actors that would show the same display name and type (the
-- actors model's rule, macros/actor_display.sql) are one actor, the most mentioned: the NLP
-- stage can give one name two ids ("The Fockers" linked in some parts, another id's majority
-- form elsewhere), and an analyst reading "The Fockers, person" twice cannot tell them apart.
-- The mart's unique (name, type) test guards the rare rest (two forms tied in own mentions).
-- Raw ids stay in the detail tables (stable, as assigned); staging exposes the resolved id.
with mentions as (  -- of live articles only (a superseded version's names no longer count)
    select actor_id, actor, actor_type, text, article_id
    from {{ source('newsdesk', 'entity_mentions') }}
    where actor is not null
      and article_id in (select article_id from {{ ref('stg_articles') }})
),

best_name as (  -- the name the rules match on: the most frequent written form, a multi-word one first
    -- (not the display name, which is macros/actor_display.sql's)
    select actor_id, first(actor order by (actor like '% %') desc, n desc, actor) as name, sum(n) as n
    from (select actor_id, actor, count(*) as n from mentions group by all)
    group by actor_id
),

best_type as (
    {{ most_common('mentions', 'actor_id', 'actor_type') }}
),

raw_actors as (
    select actor_id, n.name, n.n, t.actor_type from best_name as n join best_type as t using (actor_id)
),

by_type as (  -- retype: the corpus's majority type for a name
    select r.actor_id, first(t.actor_id order by t.n desc, t.actor_id) as target
    from raw_actors as r
    join raw_actors as t on lower(t.name) = lower(r.name) and t.actor_type <> r.actor_type and t.n >= 2 * r.n
    group by r.actor_id
),

persons as (
    select actor_id, name, string_split(name, ' ') as words
    from raw_actors
    where actor_type = 'person' and actor_id not in (select actor_id from by_type)
),

full_names as (
    select p.actor_id, lower(words[-1]) as surname, lower(words[1] || ' ' || words[-1]) as first_last, words,
           len(words) <= 4 and words[-1] <> upper(words[-1])
           and list_bool_and(list_transform(words, lambda w: regexp_matches(w, '^[A-Z][\w''’.-]*$'))) as attested
    from persons as p
    where len(words) >= 2
),

plain_full_names as (  -- full names without initials: the targets of middle-initial matches
    select * from full_names
    where not coalesce(list_bool_or(list_transform(words[2:-2], lambda w: regexp_matches(w, '^[A-Z]\.?$'))), false)
),

by_surname as (
    select p.actor_id, min(f.actor_id) as target, count(distinct f.actor_id) as candidates
    from persons as p
    join full_names as f on f.surname = lower(p.name) and f.attested
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
),

by_middle_name as (
    select f.actor_id, min(t.actor_id) as target, count(distinct t.actor_id) as candidates
    from full_names as f
    join plain_full_names as t on t.first_last = f.first_last and len(t.words) = 2
    join raw_actors as fa on fa.actor_id = f.actor_id
    join raw_actors as ta on ta.actor_id = t.actor_id
    where len(f.words) = 3 and f.actor_id not in (select actor_id from by_initials) and ta.n >= fa.n
    group by f.actor_id
),

by_prefix as (
    select f.actor_id, min(t.actor_id) as target, count(distinct t.actor_id) as candidates
    from full_names as f
    join full_names as t on lower(array_to_string(t.words, ' ')) = lower(array_to_string(f.words[2:], ' '))
    join raw_actors as fa on fa.actor_id = f.actor_id
    join raw_actors as ta on ta.actor_id = t.actor_id
    where len(f.words) >= 3 and t.attested and ta.n >= fa.n
    group by f.actor_id
),

short_forms as (  -- surface forms the NLP stage resolved to a longer organisation or place name
    -- (the long name's retyped actor: "United States" typed a place in most articles and an
    -- organisation in one is one target, not two)
    select lower(m.text) as form, coalesce(y.target, m.actor_id) as target, count(*) as n
    from mentions as m
    join raw_actors as t on t.actor_id = m.actor_id
    left join by_type as y on y.actor_id = m.actor_id
    where t.actor_type in ('organisation', 'place')
      and lower(m.text) <> lower(t.name)
      and len(string_split(t.name, ' ')) > len(string_split(m.text, ' '))
    group by all
),

form_targets as (  -- the long name most of a form's resolved mentions went to (a few articles'
    -- wrong links, "US" read as the initials of "Universal Studio", do not veto the rest)
    select form, target, n, n / sum(n) over (partition by form) as share
    from short_forms
),

by_short_form as (  -- an acronym of the long name, or a form rarer than the long name it stands for
    select r.actor_id, min(f.target) as target, count(distinct f.target) as candidates
    from raw_actors as r
    join form_targets as f on f.form = lower(r.name) and f.target <> r.actor_id and f.share >= 0.75
    join raw_actors as t on t.actor_id = f.target
    where r.actor_type in ('organisation', 'place') and len(string_split(r.name, ' ')) <= 2
      and (t.n >= r.n or r.name = upper(r.name))
    group by r.actor_id
),

orgs as (
    select actor_id, name, n, words, list_transform(words, lambda w: regexp_replace(w, '(.{3,})s$', '\1')) as stems
    from (select *, string_split(lower(name), ' ') as words from raw_actors)
    where actor_type = 'organisation' and name like '% %'
),

abbreviated as (  -- (short, long) pairs whose every word is the same or an abbreviation
    -- (stems: words without a plural "s"; names differing by a plural only share one expansion)
    select r.actor_id, t.actor_id as target, t.n, t.stems as expansion
    from orgs as r
    join orgs as t
      on len(t.words) = len(r.words) and t.actor_id <> r.actor_id and t.words[1][1] = r.words[1][1]
    where list_bool_and(list_transform(range(1, len(r.words) + 1), lambda i:
          r.stems[i] = t.stems[i]
          or (length(t.words[i]) >= 6 and (
              (length(r.words[i]) between 3 and 4 and starts_with(t.words[i], r.words[i]))
              or (length(r.stems[i]) between 3 and 4 and r.words[i] <> r.stems[i] and t.words[i] <> t.stems[i]
                  and starts_with(t.words[i], r.stems[i]))))))
      and r.stems <> t.stems
      and exists (  -- some article wrote both: the writer's own word that they are one
          select 1 from mentions as a join mentions as b using (article_id)
          where a.actor_id = r.actor_id and b.actor_id = t.actor_id)
),

by_abbreviation as (  -- the most written name of the one expansion
    select actor_id, first(target order by n desc, target) as target, count(distinct expansion) as candidates
    from abbreviated
    group by actor_id
),

first_step as (
    select
        r.actor_id as raw_actor_id,
        coalesce(
            y.target,
            case when s.candidates = 1 then s.target end,
            case when i.candidates = 1 then i.target end,
            case when mn.candidates = 1 then mn.target end,
            case when px.candidates = 1 then px.target end,
            case when f.candidates = 1 then f.target end,
            case when ab.candidates = 1 then ab.target end,
            r.actor_id
        ) as actor_id,
        case
            when y.target is not null then 'retype'
            when s.candidates = 1 then 'surname'
            when i.candidates = 1 then 'middle_initial'
            when mn.candidates = 1 then 'middle_name'
            when px.candidates = 1 then 'prefix'
            when f.candidates = 1 then 'short_form'
            when ab.candidates = 1 then 'abbreviation'
            else 'self'
        end as resolution
    from raw_actors as r
    left join by_type as y using (actor_id)
    left join by_surname as s using (actor_id)
    left join by_initials as i using (actor_id)
    left join by_middle_name as mn using (actor_id)
    left join by_prefix as px using (actor_id)
    left join by_short_form as f using (actor_id)
    left join by_abbreviation as ab using (actor_id)
),

resolved as (
    select a.raw_actor_id, coalesce(b.actor_id, a.actor_id) as actor_id, a.resolution
    from first_step as a
    left join first_step as b on b.raw_actor_id = a.actor_id and a.resolution <> 'self'
),

resolved_mentions as (
    select m.actor_id as raw_actor_id, r.actor_id, m.actor, m.actor_type
    from mentions as m
    join resolved as r on r.raw_actor_id = m.actor_id
),

display as (  -- the name and type each resolved actor would show (the actors model's rule)
    {{ actor_display('resolved_mentions') }}
),

same_name as (  -- same_name: of actors that would show one name and type, the most mentioned
    select
        d.actor_id,
        first_value(d.actor_id) over (partition by d.name, d.actor_type order by n.n desc, d.actor_id) as keeper
    from display as d
    join (select actor_id, count(*) as n from resolved_mentions group by actor_id) as n using (actor_id)
)

select
    r.raw_actor_id,
    coalesce(s.keeper, r.actor_id) as actor_id,
    case when s.keeper <> r.actor_id and r.resolution = 'self' then 'same_name' else r.resolution end as resolution
from resolved as r
left join same_name as s on s.actor_id = r.actor_id

-- Direct quotations; speaker is NULL when no speaker could be found. speaker_id is the
-- speaker's actor after corpus-level resolution (see actor_resolution).
select
    q.quote_id,
    q.article_id,
    sentence_id,
    paragraph_id,
    "start",
    "end",
    quote_text,
    speaker,
    speaker_type,
    r.actor_id as speaker_id,
    q.speaker_id as raw_speaker_id,
    speaker_role,
    attribution,
    cue,
    cited_outlet
from {{ source('newsdesk', 'quotes') }} as q
left join {{ ref('actor_resolution') }} as r on r.raw_actor_id = q.speaker_id
where q.article_id in (select article_id from {{ ref('stg_articles') }})  -- live articles only

{#
  ref() and source() without the catalog when the target is a database file.

  dbt-duckdb names a file's catalog after the file, and dbt writes that name into every
  relation it renders, view bodies included. newsdesk builds in a work database and publishes
  it under the snapshot's own name, so the views' SQL must not name the catalog: a DuckDB view
  binds unqualified names in its own database, whatever the file is called when it is read.
  It also keeps the parsed project the same every night, so dbt can reuse it (partial parsing).
  A DuckLake target (path ':memory:', the lake attached under an alias) keeps the catalog: there
  the default catalog is the in-memory one, not the lake.
#}
{% macro ref() %}
  {%- set version = kwargs.get('version') or kwargs.get('v') -%}
  {%- if (varargs | length) == 1 -%}
    {%- set rel = builtins.ref(varargs[0], version=version) -%}
  {%- else -%}
    {%- set rel = builtins.ref(varargs[0], varargs[1], version=version) -%}
  {%- endif -%}
  {%- do return(newsdesk_relation(rel)) -%}
{% endmacro %}

{% macro source(source_name, table_name) %}
  {%- do return(newsdesk_relation(builtins.source(source_name, table_name))) -%}
{% endmacro %}

{% macro newsdesk_relation(rel) %}
  {%- if target.type == 'duckdb' and target.path not in (none, ':memory:') -%}
    {%- do return(rel.include(database=False)) -%}
  {%- endif -%}
  {%- do return(rel) -%}
{% endmacro %}

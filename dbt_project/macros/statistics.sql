{#- Statistics for the A/B report, in portable SQL (abs, exp, sqrt, power, case): DuckDB and Spark have no
    erf, and a Python step would take the numbers out of the warehouse. Floats are type_double() (macros/
    onboarding.sql). docs/analytics.md gives the formulas; tests/reporting/test_statistics.py checks every
    macro against scipy on fixed inputs. Arguments are SQL expressions; pass a column (they are repeated). -#}


{#- The median; percentile_cont is not in every dialect. -#}
{% macro median(column) -%}
    {{ return(adapter.dispatch('median', 'onboarding')(column)) }}
{%- endmacro %}

{% macro default__median(column) -%}
    percentile_cont(0.5) within group (order by {{ column }})
{%- endmacro %}

{% macro spark__median(column) -%}
    percentile({{ column }}, 0.5)
{%- endmacro %}


{#- The complementary error function, Numerical Recipes' erfcc (Chebyshev fit): absolute error below
    1e-7 and relative error below 1.2e-7 everywhere, so p-values agree with scipy to 1e-7. -#}
{% macro erfc(x) -%}
    {%- set z = 'abs(' ~ x ~ ')' -%}
    {%- set t = '(1.0 / (1.0 + 0.5 * ' ~ z ~ '))' -%}
    {%- set coefficients = [
        1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
        -1.13520398, 1.48851587, -0.82215223, 0.17087277,
    ] -%}
    {%- set ns = namespace(poly=coefficients[-1] | string) -%}
    {%- for c in coefficients[:-1] | reverse -%}
        {%- set ns.poly = c ~ ' + ' ~ t ~ ' * (' ~ ns.poly ~ ')' -%}
    {%- endfor -%}
    (case
        when {{ x }} is null then null
        when {{ x }} >= 0 then {{ t }} * exp(-{{ z }} * {{ z }} - 1.26551223 + {{ t }} * ({{ ns.poly }}))
        else 2.0 - {{ t }} * exp(-{{ z }} * {{ z }} - 1.26551223 + {{ t }} * ({{ ns.poly }}))
    end)
{%- endmacro %}


{#- The standard normal CDF, Phi(z) = erfc(-z / sqrt(2)) / 2. -#}
{% macro normal_cdf(z) -%}
    (0.5 * {{ erfc('(-(' ~ z ~ ') / ' ~ (2 ** 0.5) ~ ')') }})
{%- endmacro %}


{#- Two-sided p-value of a standard normal statistic: 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt(2)). -#}
{% macro normal_two_sided_p(z) -%}
    {{ erfc('(abs(' ~ z ~ ') / ' ~ (2 ** 0.5) ~ ')') }}
{%- endmacro %}


{#- Survival function of the chi-square distribution, P(X > x), for integer df from 1 to max_df, in closed
    form (exact for integer df):
      even df = 2m:     exp(-x/2) * sum_{i=0}^{m-1} (x/2)^i / i!
      odd df = 2m + 1:  erfc(sqrt(x/2)) + exp(-x/2) * sum_{i=1}^{m} (x/2)^(i - 1/2) / Gamma(i + 1/2)
    with Gamma(i + 1/2) = sqrt(pi) * (2i)! / (4^i * i!). Null for df outside 1..max_df. -#}
{% macro chi2_sf(x, df, max_df=29) -%}
    {%- set half = '(' ~ x ~ ' / 2.0)' -%}
    {%- set ns = namespace(even='1.0', odd=erfc('sqrt(' ~ half ~ ')'), fact=1.0) -%}
    {%- for i in range(1, (max_df // 2) + 1) -%}
        {%- set ns.fact = ns.fact * i -%}
        {%- if 2 * i + 2 <= max_df -%}
            {%- set ns.even = ns.even ~ ' + case when ' ~ df ~ ' >= ' ~ (2 * i + 2) ~ ' then power(' ~ half ~ ', ' ~ i ~ ') / ' ~ ('%.17g' | format(ns.fact)) ~ ' else 0 end' -%}
        {%- endif -%}
        {%- if 2 * i + 1 <= max_df -%}
            {%- set ns2 = namespace(f2i=1.0) -%}
            {%- for j in range(1, 2 * i + 1) -%}{%- set ns2.f2i = ns2.f2i * j -%}{%- endfor -%}
            {%- set gamma = 1.7724538509055159 * ns2.f2i / ((4 ** i) * ns.fact) -%}
            {%- set ns.odd = ns.odd ~ ' + case when ' ~ df ~ ' >= ' ~ (2 * i + 1) ~ ' then exp(-' ~ half ~ ') * power(' ~ half ~ ', ' ~ (i - 0.5) ~ ') / ' ~ ('%.17g' | format(gamma)) ~ ' else 0 end' -%}
        {%- endif -%}
    {%- endfor -%}
    (case
        when {{ x }} is null or {{ df }} is null or {{ df }} < 1 or {{ df }} > {{ max_df }} then null
        when {{ x }} <= 0 then 1.0
        when mod({{ df }}, 2) = 0 then exp(-{{ half }}) * ({{ ns.even }})
        else {{ ns.odd }}
    end)
{%- endmacro %}


{#- The A/B statistics per experiment and variant, from counts. `relation` (a table or CTE) has one row
    per experiment and variant with: experiment_id, variant, is_control (exactly one per experiment),
    weight (configured, any positive scale), assigned_users (exposed), users (analysed), conversions,
    alpha, srm_alpha, min_users_per_variant. Returns the same rows with:
      rate and its Wilson score interval (rate_ci_low/high);
      against the experiment's control: abs_lift = rate - control rate, its Wald interval with the unpooled
        standard error; rel_lift = rate / control rate - 1, its interval by the delta method; z_score with
        the pooled standard error and its two-sided p_value (the classic two-proportion z-test, equal to
        Pearson's chi-square test on the 2x2 table without continuity correction);
      the sample-ratio-mismatch test of assigned_users against the weights (Pearson chi-square goodness of
        fit, df = variants - 1): srm_chi2, srm_p_value, has_srm (p < srm_alpha);
      decision_alpha = alpha / (variants - 1) (Bonferroni over the comparisons with control),
        is_significant (p_value < decision_alpha), status: collecting while a variant has fewer analysed
        users than min_users_per_variant, else srm when has_srm, else winner when a comparison is
        significant, else no_difference; winner (only with status winner): the significantly better variant
        with the highest rate, or the control when every significant variant is worse.
    Intervals are at var ab_ci_z (1.959963984540054: 95%). -#}
{% macro ab_variant_statistics(relation) -%}
    {%- set z = var('ab_ci_z') -%}
    with

    ab_counts as (

        select
            experiment_id,
            variant,
            is_control,
            cast(weight as {{ type_double() }}) as weight,
            assigned_users,
            users,
            conversions,
            alpha,
            srm_alpha,
            min_users_per_variant,
            case when users > 0 then cast(conversions as {{ type_double() }}) / users end as rate

        from {{ relation }}

    ),

    ab_experiment_totals as (

        select
            experiment_id,
            count(*) as variants,
            sum(weight) as total_weight,
            sum(assigned_users) as total_assigned,
            min(users) as min_variant_users,
            max(alpha) as alpha,
            max(srm_alpha) as srm_alpha,
            max(min_users_per_variant) as min_users_per_variant

        from ab_counts
        group by experiment_id

    ),

    ab_srm_terms as (

        select
            ab_counts.experiment_id,
            sum(
                power(
                    ab_counts.assigned_users
                    - ab_experiment_totals.total_assigned * ab_counts.weight / ab_experiment_totals.total_weight,
                    2
                )
                / (ab_experiment_totals.total_assigned * ab_counts.weight / ab_experiment_totals.total_weight)
            ) as srm_chi2

        from ab_counts
        inner join ab_experiment_totals on ab_counts.experiment_id = ab_experiment_totals.experiment_id
        where ab_experiment_totals.total_assigned > 0
        group by ab_counts.experiment_id

    ),

    ab_srm as (

        select
            ab_experiment_totals.*,
            ab_srm_terms.srm_chi2,
            ab_experiment_totals.variants - 1 as srm_df

        from ab_experiment_totals
        left join ab_srm_terms on ab_experiment_totals.experiment_id = ab_srm_terms.experiment_id

    ),

    ab_srm_tested as (

        select
            ab_srm.*,
            {{ chi2_sf('ab_srm.srm_chi2', 'ab_srm.srm_df') }} as srm_p_value

        from ab_srm

    ),

    ab_paired as (

        select
            ab_counts.*,
            control.users as control_users,
            control.conversions as control_conversions,
            control.rate as control_rate

        from ab_counts
        inner join ab_counts as control
            on
                ab_counts.experiment_id = control.experiment_id
                and control.is_control

    ),

    ab_pieces as (

        select
            ab_paired.*,
            case
                when not ab_paired.is_control and ab_paired.users > 0 and ab_paired.control_users > 0
                    then ab_paired.rate - ab_paired.control_rate
            end as abs_lift,
            case
                when ab_paired.users > 0 and ab_paired.control_users > 0
                    then sqrt(
                        ab_paired.rate * (1 - ab_paired.rate) / ab_paired.users
                        + ab_paired.control_rate * (1 - ab_paired.control_rate) / ab_paired.control_users
                    )
            end as se_unpooled,
            case
                when ab_paired.users > 0 and ab_paired.control_users > 0
                    then cast(ab_paired.conversions + ab_paired.control_conversions as {{ type_double() }})
                    / (ab_paired.users + ab_paired.control_users)
            end as pooled_rate

        from ab_paired

    ),

    ab_tested as (

        select
            ab_pieces.*,
            case
                when ab_pieces.abs_lift is not null and ab_pieces.pooled_rate > 0 and ab_pieces.pooled_rate < 1
                    then ab_pieces.abs_lift / sqrt(
                        ab_pieces.pooled_rate * (1 - ab_pieces.pooled_rate)
                        * (1.0 / ab_pieces.users + 1.0 / ab_pieces.control_users)
                    )
            end as z_score,
            case
                when ab_pieces.abs_lift is not null and ab_pieces.control_rate > 0
                    then ab_pieces.rate / ab_pieces.control_rate - 1
            end as rel_lift,
            case
                when ab_pieces.abs_lift is not null and ab_pieces.control_rate > 0
                    then sqrt(
                        ab_pieces.rate * (1 - ab_pieces.rate) / ab_pieces.users
                        / power(ab_pieces.control_rate, 2)
                        + power(ab_pieces.rate, 2) * ab_pieces.control_rate * (1 - ab_pieces.control_rate)
                        / ab_pieces.control_users / power(ab_pieces.control_rate, 4)
                    )
            end as se_rel_lift,
            {{ z }} * {{ z }} as z_squared

        from ab_pieces

    ),

    ab_measured as (

        select
            ab_tested.*,
            {{ normal_two_sided_p('ab_tested.z_score') }} as p_value,
            ab_srm_tested.variants,
            ab_srm_tested.srm_chi2,
            ab_srm_tested.srm_df,
            ab_srm_tested.srm_p_value,
            coalesce(ab_srm_tested.srm_p_value < ab_srm_tested.srm_alpha, false) as has_srm,
            ab_srm_tested.min_variant_users,
            ab_srm_tested.alpha / nullif(ab_srm_tested.variants - 1, 0) as decision_alpha,
            ab_srm_tested.total_assigned,
            ab_srm_tested.total_weight

        from ab_tested
        inner join ab_srm_tested on ab_tested.experiment_id = ab_srm_tested.experiment_id

    ),

    ab_judged as (

        select
            ab_measured.*,
            coalesce(ab_measured.p_value < ab_measured.decision_alpha, false) as is_significant

        from ab_measured

    ),

    ab_best as (

        select
            experiment_id,
            max(case when is_significant and abs_lift > 0 then rate end) as best_significant_rate,
            max(case when is_significant then 1 else 0 end) as any_significant

        from ab_judged
        group by experiment_id

    ),

    ab_winners as (

        select
            ab_best.experiment_id,
            coalesce(
                min(case when ab_judged.is_significant and ab_judged.rate = ab_best.best_significant_rate then ab_judged.variant end),
                case when ab_best.any_significant = 1 then min(case when ab_judged.is_control then ab_judged.variant end) end
            ) as winner

        from ab_best
        inner join ab_judged on ab_best.experiment_id = ab_judged.experiment_id
        group by ab_best.experiment_id, ab_best.best_significant_rate, ab_best.any_significant

    ),

    ab_final as (

        select
            ab_judged.experiment_id,
            ab_judged.variant,
            ab_judged.is_control,
            ab_judged.weight / ab_judged.total_weight as expected_share,
            ab_judged.assigned_users,
            case
                when ab_judged.total_assigned > 0 then cast(ab_judged.assigned_users as {{ type_double() }}) / ab_judged.total_assigned
            end as observed_share,
            ab_judged.users,
            ab_judged.conversions,
            ab_judged.rate,
            case
                when ab_judged.users > 0
                    then (ab_judged.rate + ab_judged.z_squared / (2 * ab_judged.users)) / (1 + ab_judged.z_squared / ab_judged.users)
                    - {{ z }} / (1 + ab_judged.z_squared / ab_judged.users)
                    * sqrt(ab_judged.rate * (1 - ab_judged.rate) / ab_judged.users + ab_judged.z_squared / (4.0 * ab_judged.users * ab_judged.users))
            end as rate_ci_low,
            case
                when ab_judged.users > 0
                    then (ab_judged.rate + ab_judged.z_squared / (2 * ab_judged.users)) / (1 + ab_judged.z_squared / ab_judged.users)
                    + {{ z }} / (1 + ab_judged.z_squared / ab_judged.users)
                    * sqrt(ab_judged.rate * (1 - ab_judged.rate) / ab_judged.users + ab_judged.z_squared / (4.0 * ab_judged.users * ab_judged.users))
            end as rate_ci_high,
            ab_judged.control_rate,
            ab_judged.abs_lift,
            ab_judged.abs_lift - {{ z }} * ab_judged.se_unpooled as abs_lift_ci_low,
            ab_judged.abs_lift + {{ z }} * ab_judged.se_unpooled as abs_lift_ci_high,
            ab_judged.rel_lift,
            ab_judged.rel_lift - {{ z }} * ab_judged.se_rel_lift as rel_lift_ci_low,
            ab_judged.rel_lift + {{ z }} * ab_judged.se_rel_lift as rel_lift_ci_high,
            ab_judged.z_score,
            ab_judged.p_value,
            ab_judged.decision_alpha,
            ab_judged.is_significant,
            ab_judged.srm_chi2,
            ab_judged.srm_df,
            ab_judged.srm_p_value,
            ab_judged.has_srm,
            case
                when ab_judged.min_variant_users >= ab_judged.min_users_per_variant and not ab_judged.has_srm
                    then ab_winners.winner
            end as winner,
            case
                when ab_judged.min_variant_users < ab_judged.min_users_per_variant then 'collecting'
                when ab_judged.has_srm then 'srm'
                when ab_winners.winner is not null then 'winner'
                else 'no_difference'
            end as status

        from ab_judged
        inner join ab_winners on ab_judged.experiment_id = ab_winners.experiment_id

    )

    select * from ab_final
{%- endmacro %}

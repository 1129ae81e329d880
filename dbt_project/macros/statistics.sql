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


{#- Always-valid inference: the asymptotic confidence sequence of Waudby-Smith et al. (the normal-mixture
    mSPRT that GrowthBook and Eppo document). For an estimate with variance `variance` after `n` units, at
    level 1 - alpha, tuned to be narrowest at `tuning_n` units:
      rho2       = (-2 ln alpha + ln(-2 ln alpha + 1)) / tuning_n
      half-width = sqrt(variance * n) * sqrt(2 (n rho2 + 1) / (n^2 rho2) * ln(sqrt(n rho2 + 1) / alpha))
    and the always-valid p-value (the mixture likelihood ratio's reciprocal, capped at 1):
      p = min(1, sqrt(1 + n rho2) * exp(-n rho2 / (1 + n rho2) * estimate^2 / (2 variance)))
    p < alpha exactly when the sequence excludes 0. Unlike a fixed-horizon interval, the probability that the
    sequence ever misses the true effect, however often it is read, is at most alpha.
    Only sqrt, ln and exp: portable (DuckDB, Spark, Postgres, Snowflake, BigQuery). -#}
{% macro cs_rho_squared(alpha, tuning_n) -%}
    ((-2.0 * ln({{ alpha }}) + ln(-2.0 * ln({{ alpha }}) + 1.0)) / {{ tuning_n }})
{%- endmacro %}

{% macro cs_half_width(variance, n, alpha, rho2) -%}
    (case
        when {{ variance }} > 0 and {{ n }} > 0 and {{ rho2 }} > 0
            then sqrt(
                {{ variance }} * {{ n }} * 2.0 * ({{ n }} * {{ rho2 }} + 1.0) / ({{ n }} * {{ n }} * {{ rho2 }})
                * ln(sqrt({{ n }} * {{ rho2 }} + 1.0) / {{ alpha }})
            )
    end)
{%- endmacro %}

{% macro cs_p_value(estimate, variance, n, rho2) -%}
    (case
        when {{ variance }} > 0 and {{ n }} > 0 and {{ rho2 }} > 0
            then least(
                1.0,
                exp(
                    0.5 * ln(1.0 + {{ n }} * {{ rho2 }})
                    - {{ n }} * {{ rho2 }} / (1.0 + {{ n }} * {{ rho2 }})
                    * {{ estimate }} * {{ estimate }} / (2.0 * {{ variance }})
                )
            )
    end)
{%- endmacro %}


{#- `a.k1 = b.k1 and a.k2 = b.k2 ...` over the grouping keys of the A/B macros. -#}
{% macro ab_keys_match(left, right, keys) -%}
    {%- for k in keys %}{{ left }}.{{ k }} = {{ right }}.{{ k }}{% if not loop.last %} and {% endif %}{% endfor -%}
{%- endmacro %}


{#- The A/B statistics per experiment (more generally per `keys`: the slices and daily snapshots add a
    slice or a day) and variant, from counts and sums. `relation` (a table or CTE) has one row per keys and
    variant with:
      variant, is_control (exactly one per keys), weight (configured, any positive scale), assigned_users
      (exposed), users (analysed), conversions, sum_x, sum_xx, sum_xy (the analysed users' pre-exposure
      covariate x: its sum, sum of squares, and sum of x times converted), alpha, srm_alpha,
      min_users_per_variant, is_sequential, horizon_users_per_variant, guardrail_broken (the variant breaks
      one of its guardrails: macro ab_guardrail_statistics).
    Returns the same rows with:
      fixed horizon: the rate and its Wilson interval; against the control, abs_lift with its Wald interval
        (unpooled), rel_lift with its delta-method interval, the pooled two-proportion z_score and its
        two-sided p_value (Pearson's chi-square on the 2x2 table without continuity correction);
      CUPED: theta = cov(x, y) / var(x) over all analysed users of the keys; cuped_rate = rate - theta
        (mean x of the variant - mean x of all); cuped_abs_lift = abs_lift - theta (mean x - control mean x)
        with its Wald interval from the variance of y - theta x in each arm, cuped_p_value, and
        variance_reduction = 1 - var(cuped_abs_lift) / var(abs_lift);
      always valid: seq_abs_lift_ci_low/high, the confidence sequence of cuped_abs_lift at level
        1 - decision_alpha tuned for horizon_users_per_variant users per variant, and seq_p_value;
      the sample-ratio check of assigned_users against the weights (srm_chi2, srm_p_value, has_srm);
      decision_alpha = alpha / (variants - 1) (Bonferroni over the comparisons with the control);
      status: srm (has_srm), else running while a variant has fewer analysed users than
        min_users_per_variant, else winner when a variant beats the control (fixed horizon: p_value <
        decision_alpha; sequential: the confidence sequence is above 0) without breaking a guardrail, else
        loser when every variant is worse than the control or breaks a guardrail, else running while a
        sequential experiment has fewer than horizon_users_per_variant users in a variant, else
        inconclusive; winner: with status winner the winning variant with the highest rate, with status
        loser the control, else null.
    Intervals are at var ab_ci_z (1.959963984540054: 95%). -#}
{% macro ab_variant_statistics(relation, keys=['experiment_id']) -%}
    {%- set z = var('ab_ci_z') -%}
    {%- set key_list = keys | join(', ') -%}
    with

    ab_counts as (

        select
            {{ key_list }},
            variant,
            is_control,
            cast(weight as {{ type_double() }}) as weight,
            assigned_users,
            users,
            conversions,
            cast(coalesce(sum_x, 0) as {{ type_double() }}) as sum_x,
            cast(coalesce(sum_xx, 0) as {{ type_double() }}) as sum_xx,
            cast(coalesce(sum_xy, 0) as {{ type_double() }}) as sum_xy,
            alpha,
            srm_alpha,
            min_users_per_variant,
            coalesce(is_sequential, false) as is_sequential,
            horizon_users_per_variant,
            coalesce(guardrail_broken, false) as guardrail_broken,
            case when users > 0 then cast(conversions as {{ type_double() }}) / users end as rate

        from {{ relation }}

    ),

    ab_moments as (

        select
            ab_counts.*,
            case when users > 0 then sum_x / users end as x_mean,
            case when users > 0 then sum_xx / users - (sum_x / users) * (sum_x / users) end as x_var,
            case when users > 0 then sum_xy / users - (sum_x / users) * rate end as xy_cov

        from ab_counts

    ),

    ab_experiment_totals as (

        select
            {{ key_list }},
            count(*) as variants,
            sum(weight) as total_weight,
            sum(assigned_users) as total_assigned,
            min(users) as min_variant_users,
            sum(users) as total_users,
            sum(conversions) as total_conversions,
            sum(sum_x) as total_x,
            sum(sum_xx) as total_xx,
            sum(sum_xy) as total_xy,
            max(alpha) as alpha,
            max(srm_alpha) as srm_alpha,
            max(min_users_per_variant) as min_users_per_variant,
            max(case when is_sequential then 1 else 0 end) = 1 as is_sequential,
            max(horizon_users_per_variant) as horizon_users_per_variant

        from ab_counts
        group by {{ key_list }}

    ),

    ab_theta as (

        select
            ab_experiment_totals.*,
            case when total_users > 0 then total_x / total_users end as covariate_mean,
            case
                when total_users > 0
                    and total_xx / total_users - (total_x / total_users) * (total_x / total_users) > 1e-12
                    then (
                        total_xy / total_users
                        - (total_x / total_users) * (cast(total_conversions as {{ type_double() }}) / total_users)
                    ) / (total_xx / total_users - (total_x / total_users) * (total_x / total_users))
                else 0.0
            end as cuped_theta,
            alpha / nullif(variants - 1, 0) as decision_alpha

        from ab_experiment_totals

    ),

    ab_tuned as (

        select
            ab_theta.*,
            case
                when decision_alpha > 0 and decision_alpha < 1 and horizon_users_per_variant > 0
                    then {{ cs_rho_squared('decision_alpha', 'horizon_users_per_variant * variants') }}
            end as cs_rho2

        from ab_theta

    ),

    ab_srm_terms as (

        select
            {% for k in keys %}ab_counts.{{ k }},{% endfor %}
            sum(
                power(
                    ab_counts.assigned_users
                    - ab_experiment_totals.total_assigned * ab_counts.weight / ab_experiment_totals.total_weight,
                    2
                )
                / (ab_experiment_totals.total_assigned * ab_counts.weight / ab_experiment_totals.total_weight)
            ) as srm_chi2

        from ab_counts
        inner join ab_experiment_totals on {{ ab_keys_match('ab_counts', 'ab_experiment_totals', keys) }}
        where ab_experiment_totals.total_assigned > 0
        group by {% for k in keys %}ab_counts.{{ k }}{% if not loop.last %}, {% endif %}{% endfor %}

    ),

    ab_srm_tested as (

        select
            ab_tuned.*,
            ab_srm_terms.srm_chi2,
            ab_tuned.variants - 1 as srm_df,
            {{ chi2_sf('ab_srm_terms.srm_chi2', '(ab_tuned.variants - 1)') }} as srm_p_value

        from ab_tuned
        left join ab_srm_terms on {{ ab_keys_match('ab_tuned', 'ab_srm_terms', keys) }}

    ),

    ab_paired as (

        select
            ab_moments.*,
            control.users as control_users,
            control.conversions as control_conversions,
            control.rate as control_rate,
            control.x_mean as control_x_mean,
            control.x_var as control_x_var,
            control.xy_cov as control_xy_cov,
            ab_srm_tested.cuped_theta,
            ab_srm_tested.covariate_mean,
            ab_srm_tested.cs_rho2,
            ab_srm_tested.decision_alpha

        from ab_moments
        inner join ab_moments as control
            on
                {{ ab_keys_match('ab_moments', 'control', keys) }}
                and control.is_control
        inner join ab_srm_tested on {{ ab_keys_match('ab_moments', 'ab_srm_tested', keys) }}

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
            end as pooled_rate,
            case
                when ab_paired.users > 0 and ab_paired.control_users > 0
                    then
                        (
                            ab_paired.rate * (1 - ab_paired.rate)
                            + ab_paired.cuped_theta * ab_paired.cuped_theta * ab_paired.x_var
                            - 2 * ab_paired.cuped_theta * ab_paired.xy_cov
                        ) / ab_paired.users
                        + (
                            ab_paired.control_rate * (1 - ab_paired.control_rate)
                            + ab_paired.cuped_theta * ab_paired.cuped_theta * ab_paired.control_x_var
                            - 2 * ab_paired.cuped_theta * ab_paired.control_xy_cov
                        ) / ab_paired.control_users
            end as cuped_variance

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
            case
                when ab_pieces.users > 0
                    then ab_pieces.rate - ab_pieces.cuped_theta * (ab_pieces.x_mean - ab_pieces.covariate_mean)
            end as cuped_rate,
            case
                when ab_pieces.abs_lift is not null
                    then ab_pieces.abs_lift - ab_pieces.cuped_theta * (ab_pieces.x_mean - ab_pieces.control_x_mean)
            end as cuped_abs_lift,
            case
                when ab_pieces.abs_lift is not null and ab_pieces.cuped_variance > 0
                    then sqrt(ab_pieces.cuped_variance)
            end as cuped_se,
            ab_pieces.users + ab_pieces.control_users as pair_users,
            {{ z }} * {{ z }} as z_squared

        from ab_pieces

    ),

    ab_sequenced as (

        select
            ab_tested.*,
            {{ cs_half_width('ab_tested.cuped_se * ab_tested.cuped_se', 'ab_tested.pair_users', 'ab_tested.decision_alpha', 'ab_tested.cs_rho2') }} as seq_half_width,
            {{ cs_p_value('ab_tested.cuped_abs_lift', 'ab_tested.cuped_se * ab_tested.cuped_se', 'ab_tested.pair_users', 'ab_tested.cs_rho2') }} as seq_p_value

        from ab_tested

    ),

    ab_measured as (

        select
            ab_sequenced.*,
            {{ normal_two_sided_p('ab_sequenced.z_score') }} as p_value,
            {{ normal_two_sided_p('(ab_sequenced.cuped_abs_lift / ab_sequenced.cuped_se)') }} as cuped_p_value,
            ab_srm_tested.variants,
            ab_srm_tested.srm_chi2,
            ab_srm_tested.srm_df,
            ab_srm_tested.srm_p_value,
            coalesce(ab_srm_tested.srm_p_value < ab_srm_tested.srm_alpha, false) as has_srm,
            ab_srm_tested.min_variant_users,
            ab_srm_tested.is_sequential as experiment_is_sequential,
            ab_srm_tested.total_assigned,
            ab_srm_tested.total_weight

        from ab_sequenced
        inner join ab_srm_tested on {{ ab_keys_match('ab_sequenced', 'ab_srm_tested', keys) }}

    ),

    ab_judged as (

        select
            ab_measured.*,
            coalesce(ab_measured.p_value < ab_measured.decision_alpha, false) as is_significant,
            coalesce(ab_measured.seq_p_value < ab_measured.decision_alpha, false) as seq_is_significant

        from ab_measured

    ),

    ab_verdicts as (

        select
            ab_judged.*,
            case
                when ab_judged.is_control then false
                when ab_judged.experiment_is_sequential then ab_judged.seq_is_significant and ab_judged.cuped_abs_lift > 0
                else ab_judged.is_significant and ab_judged.abs_lift > 0
            end as is_better,
            case
                when ab_judged.is_control then false
                when ab_judged.experiment_is_sequential then ab_judged.seq_is_significant and ab_judged.cuped_abs_lift < 0
                else ab_judged.is_significant and ab_judged.abs_lift < 0
            end as is_worse

        from ab_judged

    ),

    ab_best as (

        select
            {{ key_list }},
            max(case when is_better and not guardrail_broken then rate end) as best_winning_rate,
            sum(case when not is_control then 1 else 0 end) as treatments,
            sum(case when not is_control and (is_worse or guardrail_broken) then 1 else 0 end) as losing_treatments,
            min(case when is_control then variant end) as control_variant

        from ab_verdicts
        group by {{ key_list }}

    ),

    ab_winners as (

        select
            {% for k in keys %}ab_best.{{ k }},{% endfor %}
            coalesce(
                min(
                    case
                        when ab_verdicts.is_better and not ab_verdicts.guardrail_broken
                            and ab_verdicts.rate = ab_best.best_winning_rate
                            then ab_verdicts.variant
                    end
                ),
                case
                    when ab_best.treatments > 0 and ab_best.losing_treatments = ab_best.treatments
                        then ab_best.control_variant
                end
            ) as winner,
            max(case when ab_verdicts.is_better and not ab_verdicts.guardrail_broken then 1 else 0 end) = 1 as has_winner

        from ab_best
        inner join ab_verdicts on {{ ab_keys_match('ab_best', 'ab_verdicts', keys) }}
        group by
            {% for k in keys %}ab_best.{{ k }}, {% endfor %}ab_best.best_winning_rate, ab_best.treatments,
            ab_best.losing_treatments, ab_best.control_variant

    ),

    ab_final as (

        select
            {% for k in keys %}ab_verdicts.{{ k }},{% endfor %}
            ab_verdicts.variant,
            ab_verdicts.is_control,
            ab_verdicts.weight / ab_verdicts.total_weight as expected_share,
            ab_verdicts.assigned_users,
            case
                when ab_verdicts.total_assigned > 0 then cast(ab_verdicts.assigned_users as {{ type_double() }}) / ab_verdicts.total_assigned
            end as observed_share,
            ab_verdicts.users,
            ab_verdicts.conversions,
            ab_verdicts.rate,
            case
                when ab_verdicts.users > 0
                    then (ab_verdicts.rate + ab_verdicts.z_squared / (2 * ab_verdicts.users)) / (1 + ab_verdicts.z_squared / ab_verdicts.users)
                    - {{ z }} / (1 + ab_verdicts.z_squared / ab_verdicts.users)
                    * sqrt(ab_verdicts.rate * (1 - ab_verdicts.rate) / ab_verdicts.users + ab_verdicts.z_squared / (4.0 * ab_verdicts.users * ab_verdicts.users))
            end as rate_ci_low,
            case
                when ab_verdicts.users > 0
                    then (ab_verdicts.rate + ab_verdicts.z_squared / (2 * ab_verdicts.users)) / (1 + ab_verdicts.z_squared / ab_verdicts.users)
                    + {{ z }} / (1 + ab_verdicts.z_squared / ab_verdicts.users)
                    * sqrt(ab_verdicts.rate * (1 - ab_verdicts.rate) / ab_verdicts.users + ab_verdicts.z_squared / (4.0 * ab_verdicts.users * ab_verdicts.users))
            end as rate_ci_high,
            ab_verdicts.control_rate,
            ab_verdicts.abs_lift,
            ab_verdicts.abs_lift - {{ z }} * ab_verdicts.se_unpooled as abs_lift_ci_low,
            ab_verdicts.abs_lift + {{ z }} * ab_verdicts.se_unpooled as abs_lift_ci_high,
            ab_verdicts.rel_lift,
            ab_verdicts.rel_lift - {{ z }} * ab_verdicts.se_rel_lift as rel_lift_ci_low,
            ab_verdicts.rel_lift + {{ z }} * ab_verdicts.se_rel_lift as rel_lift_ci_high,
            ab_verdicts.z_score,
            ab_verdicts.p_value,
            ab_verdicts.decision_alpha,
            ab_verdicts.is_significant,
            ab_verdicts.x_mean as covariate_mean,
            ab_verdicts.cuped_theta,
            ab_verdicts.cuped_rate,
            ab_verdicts.cuped_abs_lift,
            ab_verdicts.cuped_abs_lift - {{ z }} * ab_verdicts.cuped_se as cuped_abs_lift_ci_low,
            ab_verdicts.cuped_abs_lift + {{ z }} * ab_verdicts.cuped_se as cuped_abs_lift_ci_high,
            ab_verdicts.cuped_p_value,
            case
                when ab_verdicts.abs_lift is not null and ab_verdicts.se_unpooled > 0
                    then 1 - ab_verdicts.cuped_variance / (ab_verdicts.se_unpooled * ab_verdicts.se_unpooled)
            end as variance_reduction,
            ab_verdicts.experiment_is_sequential as is_sequential,
            ab_verdicts.horizon_users_per_variant,
            ab_verdicts.cuped_abs_lift - ab_verdicts.seq_half_width as seq_abs_lift_ci_low,
            ab_verdicts.cuped_abs_lift + ab_verdicts.seq_half_width as seq_abs_lift_ci_high,
            ab_verdicts.seq_p_value,
            ab_verdicts.seq_is_significant,
            ab_verdicts.is_better,
            ab_verdicts.is_worse,
            ab_verdicts.guardrail_broken,
            ab_verdicts.srm_chi2,
            ab_verdicts.srm_df,
            ab_verdicts.srm_p_value,
            ab_verdicts.has_srm,
            case
                when not ab_verdicts.has_srm and ab_verdicts.min_variant_users >= ab_verdicts.min_users_per_variant
                    then ab_winners.winner
            end as winner,
            case
                when ab_verdicts.has_srm then 'srm'
                when ab_verdicts.min_variant_users < ab_verdicts.min_users_per_variant then 'running'
                when ab_winners.has_winner then 'winner'
                when ab_winners.winner is not null then 'loser'
                when ab_verdicts.experiment_is_sequential
                    and ab_verdicts.min_variant_users < ab_verdicts.horizon_users_per_variant then 'running'
                else 'inconclusive'
            end as status

        from ab_verdicts
        inner join ab_winners on {{ ab_keys_match('ab_verdicts', 'ab_winners', keys) }}

    )

    select * from ab_final
{%- endmacro %}


{#- The guardrail test per keys (experiment_id, guardrail) and variant, on a per-user mean (a share such as
    60-day churn, or a count such as CSM alerts per user) where higher is worse. `relation` has one row per
    keys and variant with: variant, is_control, users (analysed), sum_value, sum_value_sq, alpha (one-sided),
    is_sequential, horizon_users_per_variant, variants. Returns: mean, control_mean, diff = mean -
    control_mean, its standard error (Welch: var/n + control var/n, population variances), the 95% interval,
    z_score, harm_p_value = P(Z > z) (one-sided: only harm breaks a guardrail); the confidence sequence of
    diff at level 1 - 2 alpha (its lower end above 0 is harm at one-sided alpha, however often it is read)
    and seq_p_value; is_broken: fixed horizon harm_p_value < alpha, sequential the sequence above 0. -#}
{% macro ab_guardrail_statistics(relation, keys=['experiment_id', 'guardrail']) -%}
    {%- set z = var('ab_ci_z') -%}
    with

    gr_moments as (

        select
            *,
            case when users > 0 then cast(sum_value as {{ type_double() }}) / users end as mean,
            case
                when users > 0
                    then cast(sum_value_sq as {{ type_double() }}) / users
                    - (cast(sum_value as {{ type_double() }}) / users) * (cast(sum_value as {{ type_double() }}) / users)
            end as value_var

        from {{ relation }}

    ),

    gr_paired as (

        select
            gr_moments.*,
            control.users as control_users,
            control.mean as control_mean,
            control.value_var as control_value_var,
            case
                when not gr_moments.is_control and gr_moments.users > 0 and control.users > 0
                    then gr_moments.mean - control.mean
            end as diff,
            case
                when gr_moments.users > 0 and control.users > 0
                    then gr_moments.value_var / gr_moments.users + control.value_var / control.users
            end as diff_variance,
            gr_moments.users + control.users as pair_users,
            case
                when gr_moments.alpha > 0 and gr_moments.alpha < 0.5 and gr_moments.horizon_users_per_variant > 0
                    then {{ cs_rho_squared('2 * gr_moments.alpha', 'gr_moments.horizon_users_per_variant * gr_moments.variants') }}
            end as cs_rho2

        from gr_moments
        inner join gr_moments as control
            on
                {{ ab_keys_match('gr_moments', 'control', keys) }}
                and control.is_control

    ),

    gr_tested as (

        select
            gr_paired.*,
            case when gr_paired.diff is not null and gr_paired.diff_variance > 0 then sqrt(gr_paired.diff_variance) end as diff_se,
            case
                when gr_paired.diff is not null and gr_paired.diff_variance > 0
                    then gr_paired.diff / sqrt(gr_paired.diff_variance)
            end as z_score,
            {{ cs_half_width('gr_paired.diff_variance', 'gr_paired.pair_users', '(2 * gr_paired.alpha)', 'gr_paired.cs_rho2') }} as seq_half_width,
            {{ cs_p_value('gr_paired.diff', 'gr_paired.diff_variance', 'gr_paired.pair_users', 'gr_paired.cs_rho2') }} as seq_p_value

        from gr_paired

    ),

    gr_final as (

        select
            {% for k in keys %}{{ k }},{% endfor %}
            variant,
            is_control,
            users,
            mean,
            control_mean,
            diff,
            diff_se,
            diff - {{ z }} * diff_se as diff_ci_low,
            diff + {{ z }} * diff_se as diff_ci_high,
            z_score,
            case when z_score is not null then {{ normal_cdf('(-z_score)') }} end as harm_p_value,
            alpha,
            is_sequential,
            diff - seq_half_width as seq_diff_ci_low,
            diff + seq_half_width as seq_diff_ci_high,
            seq_p_value,
            case
                when is_control or diff is null then false
                when is_sequential then coalesce(diff - seq_half_width > 0, false)
                else coalesce({{ normal_cdf('(-z_score)') }} < alpha, false)
            end as is_broken

        from gr_tested

    )

    select * from gr_final
{%- endmacro %}

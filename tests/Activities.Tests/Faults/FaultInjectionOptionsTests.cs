using KataWorkflows.Activities.Faults;
using Microsoft.Extensions.Configuration;

namespace KataWorkflows.Activities.Tests.Faults;

public sealed class FaultInjectionOptionsTests
{
    [Fact]
    public void Parse_reads_the_compact_form_with_defaults()
    {
        var rules = FaultInjectionOptions.Parse(" sandbox.startVM:fail:2 , sandbox.createContainers:kill:after; sandbox.stopVM:DriverError:sandbox=sb-1:1:after,container.exec:hang");

        Assert.Equal(
            [
                new FaultRule { Step = "sandbox.startVM", Mode = FaultMode.Fail, Times = 2, When = FaultPoint.Before },
                new FaultRule { Step = "sandbox.createContainers", Mode = FaultMode.KillProcess, Times = 0, When = FaultPoint.After },
                new FaultRule { Step = "sandbox.stopVM", Mode = FaultMode.DriverError, Times = 1, When = FaultPoint.After, SandboxId = "sb-1" },
                new FaultRule { Step = "container.exec", Mode = FaultMode.Hang },
            ],
            rules);
    }

    [Fact]
    public void A_rule_prints_in_the_form_Parse_reads()
    {
        var rule = new FaultRule { Step = "sandbox.stopVM", Mode = FaultMode.KillProcess, Times = 3, When = FaultPoint.After, SandboxId = "sb1", Skip = 2 };

        Assert.Equal("sandbox.stopVM:kill:3:after:sandbox=sb1:skip=2", rule.ToString());
        Assert.Equal([rule], FaultInjectionOptions.Parse(rule.ToString()));
    }

    [Theory]
    [InlineData("sandbox.startVM:fail,sandbox.startVM:explode", "Fault rule #2 'sandbox.startVM:explode' is invalid: unknown mode 'explode' (expected fail, hang, kill or drivererror).")]
    [InlineData("sandbox.startVm2:fail", "Fault rule #1 'sandbox.startVm2:fail' is invalid: unknown step 'sandbox.startVm2'")]
    [InlineData("sandbox.startVM", "Fault rule #1 'sandbox.startVM' is invalid: expected step:mode[:times][:before|after][:sandbox=<id>][:skip=<n>].")]
    [InlineData("sandbox.startVM:fail:1:2", "Fault rule #1 'sandbox.startVM:fail:1:2' is invalid: the number of times is given twice.")]
    [InlineData("sandbox.startVM:fail:-1", "Fault rule #1 'sandbox.startVM:fail:-1' is invalid: '-1' is not a number of times, before/after, sandbox=<id> or skip=<n>.")]
    [InlineData("sandbox.startVM:kill:skip=1:skip=2", "Fault rule #1 'sandbox.startVM:kill:skip=1:skip=2' is invalid: skip is given twice.")]
    [InlineData("sandbox.startVM:fail:before:after", "Fault rule #1 'sandbox.startVM:fail:before:after' is invalid: before/after is given twice.")]
    public void Parse_errors_quote_the_bad_rule_and_say_what_is_wrong(string spec, string messageStart)
    {
        var ex = Assert.Throws<FormatException>(() => FaultInjectionOptions.Parse(spec));

        Assert.StartsWith(messageStart, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_validator_names_the_bad_configuration_keys()
    {
        var options = new FaultInjectionOptions { Spec = "sandbox.startVM:boom" };
        options.Rules.Add(new FaultRule { Step = "sandbox.startVM", Times = 1 });
        options.Rules.Add(new FaultRule { Step = "nope", Times = -2 });

        var result = new FaultInjectionOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("Faults:Rules:1:Step 'nope' is not a sandbox activity", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("Faults:Rules:1:Times must be 0 (every time) or more, got -2", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("Faults:Spec: Fault rule #1 'sandbox.startVM:boom' is invalid", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Failures!, f => f.StartsWith("Faults:Rules:0", StringComparison.Ordinal));
    }

    [Fact]
    public void Configured_rules_come_before_the_spec_rules()
    {
        var options = new FaultInjectionOptions { Spec = "sandbox.stopVM:hang" };
        options.Rules.Add(new FaultRule { Step = "sandbox.startVM" });

        Assert.Equal(["sandbox.startVM", "sandbox.stopVM"], options.AllRules().Select(r => r.Step));
    }

    [Fact]
    public void Rules_bind_from_configuration_keys_and_environment_variables()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["KataWorkflows:Faults:Rules:0:Step"] = "sandbox.createNetwork",
                ["KataWorkflows:Faults:Rules:0:Mode"] = "Hang",
                ["KataWorkflows:Faults:Rules:0:When"] = "After",
                ["KataWorkflows:Faults:Rules:0:Times"] = "1",
                ["KataWorkflows:Faults:Rules:0:SandboxId"] = "sb1",
                ["KataWorkflows:Faults:Spec"] = "sandbox.startVM:fail:2",
            })
            .Build();
        var options = new FaultInjectionOptions();

        configuration.GetSection("KataWorkflows:Faults").Bind(options);

        Assert.Equal(
            [
                new FaultRule { Step = "sandbox.createNetwork", Mode = FaultMode.Hang, When = FaultPoint.After, Times = 1, SandboxId = "sb1" },
                new FaultRule { Step = "sandbox.startVM", Mode = FaultMode.Fail, Times = 2 },
            ],
            options.AllRules());
    }
}

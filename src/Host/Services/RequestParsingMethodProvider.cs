using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;

namespace KataWorkflows.Host.Services;

/// <summary>
/// Binds every gRPC service the host maps, as Grpc.AspNetCore's own binder does (the generated <c>BindService</c>
/// method named by <see cref="BindServiceMethodAttribute"/>), with one difference: a request that does not parse
/// (truncated, a wrong wire type, invalid UTF-8 in a string field, nesting past the recursion limit) is refused with
/// InvalidArgument naming the message type. The request is parsed before any interceptor runs, so without this the
/// client got Unknown ("Exception was thrown by handler.") and the host logged an error with a stack trace per request.
/// </summary>
/// <typeparam name="TService">The service implementation.</typeparam>
internal sealed class RequestParsingMethodProvider<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    /// <inheritdoc />
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        for (var type = typeof(TService); type is not null; type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is not { } bind)
            {
                continue;
            }

            var method = bind.BindType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .SingleOrDefault(m => m.Name == bind.BindMethodName && m.GetParameters() is [var binder, var service]
                    && binder.ParameterType == typeof(ServiceBinderBase) && service.ParameterType.IsAssignableFrom(typeof(TService)))
                ?? throw new InvalidOperationException($"{bind.BindType}.{bind.BindMethodName}(ServiceBinderBase, {type.Name}) was not found.");

            // With no implementation the generated method only names its methods; the invokers come from TService.
            method.Invoke(null, [new Binder(context, type), null]);
            return;
        }
    }

    /// <summary>The status a request that did not parse gets (with the Sandboxes service's failure trailer on its calls).</summary>
    internal static RpcException Unparsable(string service, string messageType, Exception exception)
    {
        var refused = new RpcException(new Status(StatusCode.InvalidArgument, $"request: not a valid {messageType} message: {exception.Message}"));
        return service == CallInterceptor.SandboxesService ? CallInterceptor.WithFailure(refused) : refused;
    }

    private sealed class Binder : ServiceBinderBase
    {
        private readonly ServiceMethodProviderContext<TService> _context;
        private readonly Type _declaringType;

        public Binder(ServiceMethodProviderContext<TService> context, Type declaringType)
        {
            _context = context;
            _declaringType = declaringType;
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<UnaryServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(ServerCallContext));
            _context.AddUnaryMethod(Parsing(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ServerStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            _context.AddServerStreamingMethod(Parsing(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ClientStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext));
            _context.AddClientStreamingMethod(Parsing(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(
                method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            _context.AddDuplexStreamingMethod(Parsing(method), metadata, invoker);
        }

        /// <summary>The same method, with a request deserializer that turns a parse failure into InvalidArgument.</summary>
        private static Method<TRequest, TResponse> Parsing<TRequest, TResponse>(Method<TRequest, TResponse> method)
            where TRequest : class
            where TResponse : class
        {
            var inner = method.RequestMarshaller;
            var name = typeof(IMessage).IsAssignableFrom(typeof(TRequest)) && typeof(TRequest).GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is Google.Protobuf.Reflection.MessageDescriptor descriptor
                ? descriptor.FullName
                : typeof(TRequest).Name;
            var request = Marshallers.Create(inner.ContextualSerializer, context =>
            {
                try
                {
                    return inner.ContextualDeserializer(context);
                }
                // Google.Protobuf also throws InvalidOperationException ("SkipLastField cannot be called at the end of a
                // stream") for a group left open, and DecoderFallbackException is an ArgumentException.
                catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidOperationException or ArgumentException)
                {
                    throw Unparsable(method.ServiceName, name, ex);
                }
            });
            return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, request, method.ResponseMarshaller);
        }

        private (TDelegate Invoker, List<object> Metadata) Model<TDelegate>(string name, params Type[] parameters)
            where TDelegate : Delegate
        {
            var handler = Handler(name, parameters) ?? throw new InvalidOperationException($"{typeof(TService)} has no method {name}.");
            var metadata = new List<object>();
            // As Grpc.AspNetCore orders them: the type's attributes, then the method's (which win), then POST only.
            metadata.AddRange(typeof(TService).GetCustomAttributes(inherit: true));
            metadata.AddRange(handler.GetCustomAttributes(inherit: true));
            metadata.Add(new HttpMethodMetadata(["POST"], acceptCorsPreflight: true));
            return ((TDelegate)Delegate.CreateDelegate(typeof(TDelegate), handler), metadata);
        }

        /// <summary>The public method that overrides the generated base's virtual method of that name.</summary>
        private MethodInfo? Handler(string name, Type[] parameters)
        {
            for (var type = typeof(TService); type is not null; type = type.BaseType)
            {
                var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Instance, binder: null, types: parameters, modifiers: null);
                if (method is null)
                {
                    return null;
                }

                if (method.IsVirtual && method.GetBaseDefinition().DeclaringType == _declaringType)
                {
                    return method;
                }
            }

            return null;
        }
    }
}

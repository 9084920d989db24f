#include "codegen/jit_engine.h"

#include <fmt/format.h>
#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Linker/Linker.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include <unistd.h>

#include "codegen/cpu_features.h"
#include "codegen/llvm_emit.h"

namespace graphc {

// The kernel template library (codegen/CMakeLists.txt embeds it).
extern const unsigned char kKernelBitcodeVw8[];
extern const size_t kKernelBitcodeVw8_size;
extern const unsigned char kKernelBitcodeVw16[];
extern const size_t kKernelBitcodeVw16_size;

namespace {

std::string message(llvm::Error e) { return llvm::toString(std::move(e)); }

// A template's parameter kinds, to check a KernelCall against before calling.
enum class Param { Ptr, I64, F32, Other };

Param param_kind(llvm::Type* t) {
  if (t->isPointerTy()) return Param::Ptr;
  if (t->isIntegerTy(64)) return Param::I64;
  if (t->isFloatTy()) return Param::F32;
  return Param::Other;
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

}  // namespace

class JitEngine::Impl {
 public:
  std::mutex mutex;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tm;
  std::string cpu;
  std::string features;  // "+avx2,+fma,..."
  llvm::StringRef library;  // template bitcode for the host's vector width
  uint64_t library_hash = 0;
  std::map<std::string, std::vector<Param>> signatures;  // defined templates
  std::string cache_dir;
  std::map<std::string, std::vector<KernelFn>> loaded;  // by cache key

  Status init(const std::string& dir) {
    cache_dir = dir;
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) return Error{"LLVM: " + message(jtmb.takeError())};
    cpu = llvm::sys::getHostCPUName().str();
    std::vector<std::string> feats;
    for (const auto& f : llvm::sys::getHostCPUFeatures()) feats.push_back((f.second ? "+" : "-") + f.first().str());
    std::sort(feats.begin(), feats.end());
    llvm::SubtargetFeatures sf;
    for (const std::string& f : feats) {
      sf.AddFeature(f);
      features += (features.empty() ? "" : ",") + f;
    }
    jtmb->setCPU(cpu);
    jtmb->getFeatures() = sf;
    jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    auto made_tm = jtmb->createTargetMachine();
    if (!made_tm) return Error{"LLVM: " + message(made_tm.takeError())};
    tm = std::move(*made_tm);
    auto made_jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
    if (!made_jit) return Error{"LLVM: " + message(made_jit.takeError())};
    jit = std::move(*made_jit);
    // Kernels call libm (expf, tanhf) and memcpy/memset from this process.
    auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
        jit->getDataLayout().getGlobalPrefix());
    if (!process) return Error{"LLVM: " + message(process.takeError())};
    jit->getMainJITDylib().addGenerator(std::move(*process));

    const bool wide = host_cpu_features().vector_width() == 16;
    library = wide ? llvm::StringRef(reinterpret_cast<const char*>(kKernelBitcodeVw16), kKernelBitcodeVw16_size)
                   : llvm::StringRef(reinterpret_cast<const char*>(kKernelBitcodeVw8), kKernelBitcodeVw8_size);
    library_hash = llvm::xxh3_64bits(llvm::ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t*>(library.data()), library.size()));
    llvm::LLVMContext ctx;
    auto lib = load_library(ctx);
    if (!lib.ok()) return lib.error();
    for (llvm::Function& f : **lib) {
      if (f.isDeclaration()) continue;
      std::vector<Param> ps;
      for (llvm::Argument& a : f.args()) ps.push_back(param_kind(a.getType()));
      signatures[f.getName().str()] = std::move(ps);
    }
    return {};
  }

  Expected<std::unique_ptr<llvm::Module>> load_library(llvm::LLVMContext& ctx) {
    auto m = llvm::parseBitcodeFile(llvm::MemoryBufferRef(library, "graphc-kernel-templates"), ctx);
    if (!m) return Error{"kernel template library: " + message(m.takeError())};
    return std::move(*m);
  }

  // The module of wrappers (before the templates are linked in).
  Expected<std::unique_ptr<llvm::Module>> emit(llvm::LLVMContext& ctx, const std::vector<KernelSource>& kernels,
                                               const std::string& prefix) {
    auto m = std::make_unique<llvm::Module>("graphc.kernels", ctx);
    llvm::IRBuilder<> b(ctx);
    for (size_t i = 0; i < kernels.size(); ++i) {
      const std::string name = fmt::format("{}_{}", prefix, i);
      if (const auto* ew = std::get_if<ElementwiseKernel>(&kernels[i])) {
        try {
          emit_elementwise(*m, *ew, name);
        } catch (const std::exception& e) {
          return Error{e.what()};
        }
        continue;
      }
      const KernelCall& call = std::get<KernelCall>(kernels[i]);
      auto sig = signatures.find(call.name);
      if (sig == signatures.end()) return Error{"no kernel template named " + call.name};
      std::vector<Param> want;
      for (const KernelArg& a : call.args)
        want.push_back(a.kind == KernelArg::Kind::Buffer ? Param::Ptr
                       : a.kind == KernelArg::Kind::I64  ? Param::I64
                                                         : Param::F32);
      want.push_back(Param::I64);
      want.push_back(Param::I64);
      if (want != sig->second)
        return Error{fmt::format("kernel template {} takes {} parameters of other types than the {} given by {}",
                                 call.name, sig->second.size(), want.size(), call.key())};
      std::vector<llvm::Type*> types;
      for (Param p : want)
        types.push_back(p == Param::Ptr ? static_cast<llvm::Type*>(b.getPtrTy())
                        : p == Param::I64 ? static_cast<llvm::Type*>(b.getInt64Ty())
                                          : static_cast<llvm::Type*>(b.getFloatTy()));
      llvm::FunctionCallee callee =
          m->getOrInsertFunction(call.name, llvm::FunctionType::get(b.getVoidTy(), types, false));
      auto* fn = llvm::Function::Create(
          llvm::FunctionType::get(b.getVoidTy(), {b.getPtrTy(), b.getInt64Ty(), b.getInt64Ty()}, false),
          llvm::Function::ExternalLinkage, name, *m);
      b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
      std::vector<llvm::Value*> args;
      for (const KernelArg& a : call.args) {
        switch (a.kind) {
          case KernelArg::Kind::Buffer:
            args.push_back(b.CreateLoad(b.getPtrTy(), b.CreateConstGEP1_64(b.getPtrTy(), fn->getArg(0), a.buffer)));
            break;
          case KernelArg::Kind::I64: args.push_back(b.getInt64(a.i64)); break;
          case KernelArg::Kind::F32: args.push_back(llvm::ConstantFP::get(b.getFloatTy(), a.f32)); break;
        }
      }
      args.push_back(fn->getArg(1));
      args.push_back(fn->getArg(2));
      b.CreateCall(callee, args);
      b.CreateRetVoid();
    }
    return m;
  }

  // Links the templates in, retargets everything to the host CPU, keeps only
  // the wrappers visible and optimises at -O3.
  Status optimize(llvm::Module& m, const std::set<std::string>& entry_points) {
    llvm::LLVMContext& ctx = m.getContext();
    auto lib = load_library(ctx);
    if (!lib.ok()) return lib.error();
    if (llvm::Linker::linkModules(m, std::move(*lib), llvm::Linker::Flags::LinkOnlyNeeded))
      return Error{"linking the kernel templates failed"};
    m.setDataLayout(tm->createDataLayout());
    m.setTargetTriple(tm->getTargetTriple().str());
    for (llvm::Function& f : m) {
      if (f.isDeclaration()) continue;
      // The host's CPU and features, plus any a template asked for itself
      // (an intrinsic variant is only called when the host has them).
      std::string fs = features;
      if (f.hasFnAttribute("target-features")) {
        std::string own = f.getFnAttribute("target-features").getValueAsString().str();
        if (!own.empty()) fs += "," + own;
      }
      f.addFnAttr("target-cpu", cpu);
      f.addFnAttr("target-features", fs);
      if (!entry_points.count(f.getName().str())) f.setLinkage(llvm::GlobalValue::InternalLinkage);
    }
    for (llvm::GlobalVariable& g : m.globals())
      if (!g.isDeclaration()) g.setLinkage(llvm::GlobalValue::InternalLinkage);
    std::string verify_errors;
    llvm::raw_string_ostream vos(verify_errors);
    if (llvm::verifyModule(m, &vos)) return Error{"generated LLVM IR is invalid: " + verify_errors};

    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PipelineTuningOptions pto;
    pto.LoopVectorization = true;
    pto.SLPVectorization = true;
    llvm::PassBuilder pb(tm.get(), pto);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    mpm.run(m, mam);
    return {};
  }

  std::string cache_path(const std::string& key) const {
    return cache_dir.empty() ? std::string() : (std::filesystem::path(cache_dir) / (key + ".o")).string();
  }

  // A cache file is a header (magic, payload hash) and the object. A file
  // that does not check out (truncated, corrupted, another format) is
  // ignored and overwritten by a fresh compile.
  static constexpr char kMagic[8] = {'g', 'r', 'a', 'p', 'h', 'c', 'o', '1'};

  std::unique_ptr<llvm::MemoryBuffer> read_cache(const std::string& key) {
    const std::string path = cache_path(key);
    if (path.empty()) return nullptr;
    auto file = llvm::MemoryBuffer::getFile(path);
    if (!file) return nullptr;
    llvm::StringRef bytes = (*file)->getBuffer();
    if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, 8) != 0) return nullptr;
    uint64_t want = 0;
    std::memcpy(&want, bytes.data() + 8, 8);
    llvm::StringRef object = bytes.drop_front(16);
    if (llvm::xxh3_64bits(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(object.data()), object.size())) != want)
      return nullptr;
    return llvm::MemoryBuffer::getMemBufferCopy(object, path);
  }

  // Written to a temporary file and renamed, so a crash or a concurrent
  // compile never leaves a truncated object under the key.
  void write_cache(const std::string& key, const llvm::MemoryBuffer& object) {
    const std::string path = cache_path(key);
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    const std::string tmp = path + fmt::format(".tmp{}", static_cast<long>(::getpid()));
    {
      std::ofstream out(tmp, std::ios::binary);
      const uint64_t hash = llvm::xxh3_64bits(llvm::ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t*>(object.getBufferStart()), object.getBufferSize()));
      out.write(kMagic, 8);
      out.write(reinterpret_cast<const char*>(&hash), 8);
      out.write(object.getBufferStart(), static_cast<std::streamsize>(object.getBufferSize()));
      if (!out) {
        std::filesystem::remove(tmp, ec);
        return;  // the cache is an optimisation: failing to write it is not an error
      }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) std::filesystem::remove(tmp, ec);
  }
};

JitEngine::JitEngine() : impl_(std::make_unique<Impl>()) {}
JitEngine::~JitEngine() = default;

Expected<std::unique_ptr<JitEngine>> JitEngine::create(const std::string& cache_dir) {
  std::unique_ptr<JitEngine> engine(new JitEngine());
  if (Status s = engine->impl_->init(cache_dir); !s.ok()) return s.error();
  return engine;
}

const std::string& JitEngine::host_cpu() const { return impl_->cpu; }

Expected<std::vector<KernelFn>> JitEngine::compile(const std::vector<KernelSource>& kernels,
                                                   JitCompileReport* report) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const auto start = std::chrono::steady_clock::now();
  auto ctx = std::make_unique<llvm::LLVMContext>();
  // The key: the wrappers' IR (which names the templates and holds every
  // constant), the template library, the target and the LLVM version.
  auto draft = impl_->emit(*ctx, kernels, "graphc_kernel");
  if (!draft.ok()) return draft.error();
  std::string text;
  llvm::raw_string_ostream os(text);
  (*draft)->print(os, nullptr);
  const std::string identity = fmt::format("{}|{}|{}|{}|{}", text, hex64(impl_->library_hash), impl_->cpu,
                                           impl_->features, LLVM_VERSION_STRING);
  const std::string key = "k" + hex64(llvm::xxh3_64bits(identity));
  if (report) report->cache_key = key;
  auto finish = [&](std::vector<KernelFn> fns, bool hit) {
    if (report) {
      report->cache_hit = hit;
      report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return fns;
  };
  if (auto it = impl_->loaded.find(key); it != impl_->loaded.end()) return finish(it->second, true);

  // Symbols carry the key, so modules compiled separately never clash.
  std::unique_ptr<llvm::MemoryBuffer> object = impl_->read_cache(key);
  const bool hit = object != nullptr;
  if (!hit) {
    auto m = impl_->emit(*ctx, kernels, key);
    if (!m.ok()) return m.error();
    std::set<std::string> entries;
    for (size_t i = 0; i < kernels.size(); ++i) entries.insert(fmt::format("{}_{}", key, i));
    if (Status s = impl_->optimize(**m, entries); !s.ok()) return s.error();
    llvm::orc::SimpleCompiler compiler(*impl_->tm);
    auto compiled = compiler(**m);
    if (!compiled) return Error{"LLVM code generation: " + message(compiled.takeError())};
    object = std::move(*compiled);
    impl_->write_cache(key, *object);
  }
  if (llvm::Error e = impl_->jit->addObjectFile(std::move(object))) return Error{"LLVM JIT: " + message(std::move(e))};
  std::vector<KernelFn> fns;
  for (size_t i = 0; i < kernels.size(); ++i) {
    auto sym = impl_->jit->lookup(fmt::format("{}_{}", key, i));
    if (!sym) return Error{"LLVM JIT: " + message(sym.takeError())};
    fns.push_back(sym->toPtr<KernelFn>());
  }
  impl_->loaded[key] = fns;
  return finish(std::move(fns), hit);
}

Expected<std::string> JitEngine::optimized_ir(const std::vector<KernelSource>& kernels) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  llvm::LLVMContext ctx;
  auto m = impl_->emit(ctx, kernels, "kernel");
  if (!m.ok()) return m.error();
  std::set<std::string> entries;
  for (size_t i = 0; i < kernels.size(); ++i) entries.insert(fmt::format("kernel_{}", i));
  if (Status s = impl_->optimize(**m, entries); !s.ok()) return s.error();
  std::string text;
  llvm::raw_string_ostream os(text);
  (*m)->print(os, nullptr);
  return text;
}

}  // namespace graphc
